// Browse one revision: breadcrumb, the folder's table, the chosen file's details, the folder as a
// .tar, and a restore of the ticked entries (or of the folder) into a target folder.

import { useRef, useState } from 'preact/hooks';
import { tarUrl } from './api';
import { EntryDetails } from './entry-details';
import { EntryTable } from './entry-table';
import { useFolderPages } from './folder-pages';
import { humanCount } from './format';
import { RestoreDialog } from './restore-dialog';
import { href, navigate } from './router';
import type { Entry } from './types';

interface Props {
  storage: string;
  id: string;
  revision: number;
  path: string;
  /** the repository folder (restores go inside it) */
  repository: string;
}

const noPaths: ReadonlySet<string> = new Set();
const parentOf = (path: string) => path.split('/').slice(0, -1).join('/');

export function BrowsePage({ storage, id, revision, path, repository }: Props) {
  // what is ticked and shown belongs to one folder: a new folder starts with neither
  const [selection, setSelection] = useState<{ path: string; paths: ReadonlySet<string> }>({ path, paths: new Set() });
  const [details, setDetails] = useState<{ path: string; entry: Entry }>();
  const [restoring, setRestoring] = useState(false);
  const selected = selection.path === path ? selection.paths : noPaths;
  const shown = details?.path === path ? details.entry : undefined;

  // going up puts the cursor on the folder we left
  const visit = useRef({ path, cameFrom: undefined as string | undefined });
  if (visit.current.path !== path) {
    const before = visit.current.path;
    visit.current = { path, cameFrom: before !== '' && parentOf(before) === path ? before.split('/').pop() : undefined };
  }

  const folderHref = (entry: Entry) => href({ page: 'browse', id, revision, path: entry.path });
  const up = () => {
    if (path !== '') navigate({ page: 'browse', id, revision, path: parentOf(path) });
  };
  const select = (entry: Entry, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(entry.path);
    else next.delete(entry.path);
    setSelection({ path, paths: next });
  };
  const segments = path ? path.split('/') : [];
  const restorePaths = selected.size > 0 ? [...selected] : path ? [path] : [];

  return (
    <section class="page browse" aria-labelledby="browse-title">
      <div class="page-head">
        <h1 id="browse-title" class="breadcrumb" data-testid="breadcrumb">
          <a href={href({ page: 'revisions', id })}>{id}</a>
          <span class="sep">/</span>
          <a href={href({ page: 'browse', id, revision, path: '' })}>r{revision}</a>
          {segments.map((name, i) => {
            const to = segments.slice(0, i + 1).join('/');
            return (
              <span key={to}>
                <span class="sep">/</span>
                {i === segments.length - 1 ? <span aria-current="page">{name}</span> : <a href={href({ page: 'browse', id, revision, path: to })}>{name}</a>}
              </span>
            );
          })}
        </h1>
      </div>
      <div class="toolbar">
        <button type="button" onClick={up} disabled={path === ''} title="Backspace">
          Up
        </button>
        <a class="button" href={tarUrl(storage, id, revision, path)} download data-testid="download-tar">
          Download folder as .tar
        </a>
        <button type="button" onClick={() => setRestoring(true)} data-testid="restore-open">
          {selected.size > 0 ? `Restore ${humanCount(selected.size)} selected…` : path ? 'Restore this folder…' : 'Restore everything…'}
        </button>
        {selected.size > 0 && (
          <button type="button" class="link-button" onClick={() => setSelection({ path, paths: noPaths })}>
            Clear selection
          </button>
        )}
      </div>
      <div class="browse-grid">
        <FolderTable
          key={path}
          storage={storage}
          id={id}
          revision={revision}
          path={path}
          initialName={visit.current.cameFrom}
          selected={selected}
          onSelect={select}
          onShow={(entry) => setDetails({ path, entry })}
          onUp={up}
          folderHref={folderHref}
        />
        <EntryDetails storage={storage} id={id} revision={revision} entry={shown} />
      </div>
      {restoring && <RestoreDialog storage={storage} id={id} revision={revision} paths={restorePaths} repository={repository} onClose={() => setRestoring(false)} />}
    </section>
  );
}

interface FolderTableProps {
  storage: string;
  id: string;
  revision: number;
  path: string;
  initialName?: string;
  selected: ReadonlySet<string>;
  onSelect: (entry: Entry, on: boolean) => void;
  onShow: (entry: Entry) => void;
  onUp: () => void;
  folderHref: (entry: Entry) => string;
}

/** one folder's pages and table; remounted for each folder */
function FolderTable({ storage, id, revision, path, ...rest }: FolderTableProps) {
  const folder = useFolderPages(storage, id, revision, path);
  return (
    <div class="folder">
      <p class="muted folder-count" data-testid="folder-count">
        {folder.total !== undefined
          ? `${humanCount(folder.total)} entries`
          : folder.indexing !== undefined
            ? `indexing this revision for browsing: ${humanCount(folder.indexing)} entries so far…`
            : '\u00a0'}
      </p>
      <EntryTable folder={folder} onOpen={(entry) => navigate({ page: 'browse', id, revision, path: entry.path })} {...rest} />
    </div>
  );
}
