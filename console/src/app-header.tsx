// The header: name and repository, the pages, the storage selector (when there are several) and
// the theme toggle.

import type { Route } from './router';
import type { Session } from './types';

interface Props {
  session: Session;
  storage: string;
  onStorage: (name: string) => void;
  route: Route;
  theme: 'light' | 'dark';
  onToggleTheme: () => void;
}

const pages = [
  { page: 'overview', label: 'Overview', href: '#/overview' },
  { page: 'jobs', label: 'Jobs', href: '#/jobs' },
  { page: 'logs', label: 'Logs', href: '#/logs' },
] as const;

export function AppHeader({ session, storage, onStorage, route, theme, onToggleTheme }: Props) {
  const current = route.page === 'revisions' || route.page === 'browse' ? 'overview' : route.page;
  return (
    <header class="app-header">
      <a class="brand" href="#/overview">
        dbk
      </a>
      <span class="repository" title={session.repository}>
        {session.repository}
      </span>
      <nav aria-label="Pages">
        {pages.map((p) => (
          <a key={p.page} class="nav-link" href={p.href} aria-current={current === p.page ? 'page' : undefined}>
            {p.label}
          </a>
        ))}
      </nav>
      <span class="header-end">
        {session.storages.length > 1 ? (
          <label class="storage-select">
            Storage{' '}
            <select value={storage} onChange={(e) => onStorage(e.currentTarget.value)} data-testid="storage-select">
              {session.storages.map((s) => (
                <option key={s.name} value={s.name} title={s.url}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span class="storage-name" title={session.storages[0]?.url}>
            {storage}
          </span>
        )}
        <button type="button" class="theme-toggle" onClick={onToggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`} title="Light or dark">
          {theme === 'dark' ? '☀' : '☾'}
        </button>
        {session.version && <span class="version">v{session.version}</span>}
      </span>
    </header>
  );
}
