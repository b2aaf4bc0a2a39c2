// The side panel of Browse: what is known of the chosen entry, and its Download link.

import { fileUrl } from './api';
import { dateTime, humanBytes, modeString, owner } from './format';
import type { Entry } from './types';

interface Props {
  storage: string;
  id: string;
  revision: number;
  entry?: Entry;
}

export function EntryDetails({ storage, id, revision, entry }: Props) {
  if (!entry) {
    return (
      <aside class="details" aria-label="Details">
        <p class="muted">Choose a file to see its details and download it. Arrow keys move, Enter opens, Backspace goes up, Space ticks.</p>
      </aside>
    );
  }
  return (
    <aside class="details" aria-label="Details" data-testid="details">
      <h2 class="details-name">{entry.name}</h2>
      <dl>
        <dt>Path</dt>
        <dd class="mono">{entry.path}</dd>
        <dt>Type</dt>
        <dd>{entry.type}</dd>
        {entry.type === 'file' && (
          <>
            <dt>Size</dt>
            <dd>
              {humanBytes(entry.size)} <span class="muted">({entry.size.toLocaleString('en-US')} bytes)</span>
            </dd>
          </>
        )}
        {entry.target !== undefined && (
          <>
            <dt>Target</dt>
            <dd class="mono">{entry.target}</dd>
          </>
        )}
        <dt>Modified</dt>
        <dd>{dateTime(entry.mtime)}</dd>
        <dt>Mode</dt>
        <dd class="mono">
          {modeString(entry.mode, entry.type)} ({(entry.mode & 0o7777).toString(8).padStart(4, '0')})
        </dd>
        <dt>Owner</dt>
        <dd>
          {owner(entry)}{' '}
          <span class="muted">
            ({entry.uid}:{entry.gid})
          </span>
        </dd>
      </dl>
      {entry.type === 'file' && (
        <a class="button primary" href={fileUrl(storage, id, revision, entry.path)} download={entry.name} data-testid="download-link">
          Download
        </a>
      )}
    </aside>
  );
}
