// The entries of one folder, fetched from /api/tree a page at a time as the table scrolls to them,
// so a folder of 50,000 entries costs what is on screen.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getTree } from './api';
import { showError } from './errors';
import type { Entry } from './types';

export const pageSize = 500;

export interface FolderPages {
  /** undefined until the first page arrived */
  total: number | undefined;
  /** entry i, or undefined while its page is loading */
  entry: (index: number) => Entry | undefined;
  /** loads the pages that hold entries first to last (inclusive) */
  ensure: (first: number, last: number) => void;
  /** the index of the entry named `name` among those loaded, or -1 */
  indexOf: (name: string) => number;
  /** bumped whenever a page arrives */
  version: number;
  /** while the revision is first indexed: the entries indexed so far */
  indexing: number | undefined;
}

/** How often to ask again while a revision is being indexed. */
const INDEXING_POLL_MS = 500;

export function useFolderPages(storage: string, id: string, revision: number, path: string): FolderPages {
  const entries = useRef<(Entry | undefined)[]>([]);
  const requested = useRef(new Set<number>());
  const [total, setTotal] = useState<number>();
  const [version, setVersion] = useState(0);
  const [indexing, setIndexing] = useState<number>();
  const alive = useRef(true);

  const load = useCallback(
    (page: number) => {
      if (requested.current.has(page)) return;
      requested.current.add(page);
      getTree(storage, id, revision, path, page * pageSize, pageSize).then(
        (result) => {
          if (!alive.current) return;
          if ('state' in result) {
            setIndexing(result.entries);
            requested.current.delete(page);
            setTimeout(() => alive.current && load(page), INDEXING_POLL_MS);
            return;
          }
          setIndexing(undefined);
          result.entries.forEach((entry, i) => {
            entries.current[page * pageSize + i] = entry;
          });
          setTotal(result.total);
          setVersion((v) => v + 1);
        },
        (e) => {
          if (!alive.current) return;
          requested.current.delete(page);
          if (page === 0) setTotal(0);
          showError(e);
        },
      );
    },
    [storage, id, revision, path],
  );

  useEffect(() => {
    alive.current = true;
    load(0);
    return () => {
      alive.current = false;
    };
  }, [load]);

  const ensure = useCallback(
    (first: number, last: number) => {
      if (total === undefined) return;
      const end = Math.min(last, total - 1);
      for (let page = Math.floor(Math.max(0, first) / pageSize); page * pageSize <= end; page++) load(page);
    },
    [load, total],
  );

  return {
    total,
    entry: (index) => entries.current[index],
    ensure,
    indexOf: (name) => entries.current.findIndex((e) => e?.name === name),
    version,
    indexing,
  };
}
