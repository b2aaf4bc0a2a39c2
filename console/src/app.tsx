// The console: loads the session, then shows the header and the page the hash names.

import { useEffect, useState } from 'preact/hooks';
import { getSession } from './api';
import { AppHeader } from './app-header';
import { BrowsePage } from './browse-page';
import { ErrorBar } from './error-bar';
import { showError } from './errors';
import { JobsPage } from './jobs-page';
import { LogsPage } from './logs-page';
import { OverviewPage } from './overview-page';
import { RevisionsPage } from './revisions-page';
import { useRoute } from './router';
import { ThemeContext, useTheme } from './theme';
import type { Session } from './types';

const storageKey = 'dbk.storage';

function savedStorage(session: Session): string {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(storageKey);
  } catch {
    // no localStorage: the first storage
  }
  return session.storages.find((s) => s.name === saved)?.name ?? session.storages[0]?.name ?? '';
}

export function App() {
  const [session, setSession] = useState<Session>();
  const [storage, setStorage] = useState('');
  const [theme, toggleTheme] = useTheme();
  const route = useRoute();

  useEffect(() => {
    getSession().then(
      (s) => {
        setSession(s);
        setStorage(savedStorage(s));
      },
      (e) => showError(e),
    );
  }, []);

  useEffect(() => {
    const titles = { overview: 'Overview', revisions: 'Revisions', browse: 'Browse', jobs: 'Jobs', logs: 'Logs' };
    document.title = `${titles[route.page]} · dbk`;
  }, [route.page]);

  const chooseStorage = (name: string) => {
    setStorage(name);
    try {
      localStorage.setItem(storageKey, name);
    } catch {
      // kept for this page only
    }
  };

  if (!session) {
    return (
      <>
        <main class="loading">Connecting to dbk serve…</main>
        <ErrorBar />
      </>
    );
  }
  return (
    <ThemeContext.Provider value={theme}>
      <AppHeader session={session} storage={storage} onStorage={chooseStorage} route={route} theme={theme} onToggleTheme={toggleTheme} />
      <main>
        {route.page === 'overview' && <OverviewPage storage={storage} />}
        {route.page === 'revisions' && <RevisionsPage key={`${storage}/${route.id}`} storage={storage} id={route.id} />}
        {route.page === 'browse' && (
          <BrowsePage key={`${storage}/${route.id}/${route.revision}`} storage={storage} id={route.id} revision={route.revision} path={route.path} repository={session.repository} />
        )}
        {route.page === 'jobs' && <JobsPage storage={storage} />}
        {route.page === 'logs' && <LogsPage name={route.name} />}
      </main>
      <ErrorBar />
    </ThemeContext.Provider>
  );
}
