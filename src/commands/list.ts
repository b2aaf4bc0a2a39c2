// dbk list: the revisions of one snapshot id (or all), optionally with their files and chunks.
// Files come as a stream: a revision of millions is listed in the memory of a few metadata chunks.

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

/** A revision whose files are read as they are taken: take them (or not) before the next revision. */
export interface StreamedRevision extends Omit<ListedRevision, 'files'> {
  files?: AsyncIterable<FileEntry>;
}

export async function* listStream(o: ListOptions): AsyncGenerator<StreamedRevision> {
  const repo = await Repository.open(o);
  try {
    const ids = o.all ? await repo.listSnapshotIds() : [o.snapshotId ?? repo.snapshotId];
    for (const id of ids) {
      for (const n of await repo.listRevisions(id)) {
        if (o.revisions?.length && !o.revisions.includes(n)) continue;
        const revision = await repo.loadRevision(id, n);
        const item: StreamedRevision = { revision };
        if (o.files) item.files = repo.fileListEntries(revision);
        if (o.chunks) item.chunkIds = (await repo.readChunkHashes(revision)).map((h) => repo.chunkId(h));
        yield item;
      }
    }
  } finally {
    await repo.close();
  }
}

export async function list(o: ListOptions): Promise<ListedRevision[]> {
  const out: ListedRevision[] = [];
  for await (const { files, ...rest } of listStream(o)) {
    const item: ListedRevision = rest;
    if (files) {
      item.files = [];
      for await (const e of files) item.files.push(e);
    }
    out.push(item);
  }
  return out;
}
