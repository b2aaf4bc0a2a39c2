// dbk list: the revisions of one snapshot id (or all), optionally with their files and chunks.

import type { FileEntry } from '../format/file-list.js';
import type { Revision } from '../format/revision.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface ListOptions extends OpenOptions {
  /** every snapshot id on the storage */
  all?: boolean;
  /** one snapshot id; the repository's own by default */
  snapshotId?: string;
  /** only these revisions */
  revisions?: number[];
  files?: boolean;
  chunks?: boolean;
}

export interface ListedRevision {
  revision: Revision;
  files?: FileEntry[];
  /** chunk ids of the revision's data chunks, in sequence order */
  chunkIds?: string[];
}

export async function list(o: ListOptions): Promise<ListedRevision[]> {
  const repo = await Repository.open(o);
  try {
    const ids = o.all ? await repo.listSnapshotIds() : [o.snapshotId ?? repo.snapshotId];
    const out: ListedRevision[] = [];
    for (const id of ids) {
      for (const n of await repo.listRevisions(id)) {
        if (o.revisions?.length && !o.revisions.includes(n)) continue;
        const revision = await repo.loadRevision(id, n);
        const item: ListedRevision = { revision };
        if (o.files) item.files = await repo.readFileList(revision);
        if (o.chunks) item.chunkIds = (await repo.readChunkHashes(revision)).map((h) => repo.chunkId(h));
        out.push(item);
      }
    }
    return out;
  } finally {
    await repo.close();
  }
}
