// dbk history PATH: how one file looked in each revision of the repository's snapshot id.

import type { FileEntry } from '../format/file-list.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface HistoryOptions extends OpenOptions {
  path: string;
  snapshotId?: string;
}

export interface HistoryItem {
  revision: number;
  time: number;
  /** undefined where the revision does not have the path */
  entry: FileEntry | undefined;
}

export async function history(o: HistoryOptions): Promise<HistoryItem[]> {
  const repo = await Repository.open(o);
  try {
    const id = o.snapshotId ?? repo.snapshotId;
    const out: HistoryItem[] = [];
    for (const n of await repo.listRevisions(id)) {
      const r = await repo.loadRevision(id, n);
      const entry = await repo.findEntry(r, o.path);
      out.push({ revision: n, time: r.endTime, entry });
    }
    return out;
  } finally {
    await repo.close();
  }
}
