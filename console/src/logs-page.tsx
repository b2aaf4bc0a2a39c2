// Logs: the repository's log files, newest first, and the one chosen in a <pre>.

import { useEffect, useState } from 'preact/hooks';
import { getLog, getLogs } from './api';
import { showError } from './errors';
import { dateTime, humanBytes } from './format';
import { href } from './router';
import type { LogFile } from './types';

export function LogsPage({ name }: { name?: string }) {
  const [files, setFiles] = useState<LogFile[]>();
  const [text, setText] = useState<{ name: string; text: string }>();

  useEffect(() => {
    getLogs().then((list) => setFiles([...list].sort((a, b) => b.mtime - a.mtime)), showError);
  }, []);
  useEffect(() => {
    if (!name) return;
    getLog(name).then((t) => setText({ name, text: t }), showError);
  }, [name]);

  return (
    <section class="page logs" aria-labelledby="logs-title">
      <div class="page-head">
        <h1 id="logs-title">Logs</h1>
        <span class="muted">{files ? `${files.length} files` : '\u00a0'}</span>
      </div>
      <div class="logs-grid">
        <nav aria-label="Log files" class="log-list">
          {files?.length === 0 && <p class="empty">No logs yet.</p>}
          <ul>
            {files?.map((f) => (
              <li key={f.name}>
                <a href={href({ page: 'logs', name: f.name })} aria-current={f.name === name ? 'page' : undefined} data-testid={`log-${f.name}`}>
                  <span class="log-name">{f.name}</span>
                  <span class="muted log-meta">
                    {dateTime(f.mtime)} · {humanBytes(f.size)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="log-view">
          {!name && <p class="muted">Choose a log file.</p>}
          {name && text?.name !== name && <p class="muted">Loading {name}…</p>}
          {name && text?.name === name && (
            <pre class="log-text" data-testid="log-text">
              {text.text || '(empty)'}
            </pre>
          )}
        </div>
      </div>
    </section>
  );
}
