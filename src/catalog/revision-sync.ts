// Keeps the per-revision cache equal to the storage: lists snapshots/, drops cached revisions
// that are gone (or whose file changed size: a different revision under a reused number), and
// loads the revisions the cache lacks. New revisions of one snapshot id are downloaded a few at
// a time in parallel but cached in revision order, so each is stored as the change from the one
// before without replaying the chain.

import pLimit from 'p-limit';
import type { CachedRevision, RevisionCache } from '../../cache/revision-cache.js';
import { type DbkError, isDbkError } from '../errors.js';
import type { RevisionRef } from '../format/fossil-collection.js';
import { revisionNumberOf } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';
import { type ChunkNumbering, loadRevisionChunks } from './chunk-numbering.js';

export interface StorageRevision extends RevisionRef {
  /** size of the revision file */
  fileSize: number;
}

/** Every revision file on the storage (of the snapshot ids given, else of all), by id then number. */
export async function listStorageRevisions(repo: Repository, snapshotIds?: readonly string[]): Promise<StorageRevision[]> {
  const ids = snapshotIds ?? (await repo.listSnapshotIds());
  const limit = pLimit(repo.threads);
  const lists = await Promise.all(
    ids.map((snapshotId) =>
      limit(async () =>
        (await repo.backend.list(`snapshots/${snapshotId}`))
          .filter((e) => !e.dir && revisionNumberOf(e.name)?.deleted === false)
          .map((e) => ({ snapshotId, revision: Number(e.name), fileSize: e.size }))
          .sort((a, b) => a.revision - b.revision),
      ),
    ),
  );
  return lists.flat();
}

export interface RevisionSyncOptions {
  /** load the revisions of these snapshot ids that the cache lacks */
  load: ReadonlySet<string>;
  /** told of revisions whose metadata cannot be read (they are left out); without it, such a revision is an error */
  onUnreadable?: (r: RevisionRef, e: DbkError) => void;
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Drops cached revisions that are not on the storage, loads missing ones of the ids in `o.load`,
 * and returns the cached revisions that are on the storage, by id then number.
 */
export async function syncRevisions(repo: Repository, cache: RevisionCache, numbering: () => ChunkNumbering, onStorage: readonly StorageRevision[], o: RevisionSyncOptions): Promise<CachedRevision[]> {
  const present = new Map(onStorage.map((r) => [key(r), r]));
  const stale = new Map<string, number[]>();
  for (const c of cache.list()) {
    const s = present.get(key(c));
    if (!s || (c.fileSize !== null && c.fileSize !== s.fileSize)) stale.set(c.snapshotId, [...(stale.get(c.snapshotId) ?? []), c.revision]);
    else if (c.fileSize === null) cache.setFileSize(c.snapshotId, c.revision, s.fileSize);
  }
  for (const [id, revisions] of stale) cache.remove(id, revisions);

  const cached = new Set(cache.list().map(key));
  const missing = onStorage.filter((r) => o.load.has(r.snapshotId) && !cached.has(key(r)));
  if (missing.length > 0) await loadMissing(repo, cache, numbering(), missing, o);
  return cache.list().filter((c) => present.has(key(c)));
}

async function loadMissing(repo: Repository, cache: RevisionCache, numbering: ChunkNumbering, missing: StorageRevision[], o: RevisionSyncOptions): Promise<void> {
  const byId = new Map<string, StorageRevision[]>();
  for (const r of missing) byId.set(r.snapshotId, [...(byId.get(r.snapshotId) ?? []), r]);
  const limit = pLimit(repo.threads);
  let done = 0;
  o.onProgress?.(0, missing.length);
  await Promise.all(
    [...byId.values()].map(async (revisions) => {
      // start every download of this id (the limit bounds how many run), store them in order
      const loads = revisions.map((r) =>
        limit(() => {
          o.signal?.throwIfAborted();
          return loadRevisionChunks(repo, numbering, r.snapshotId, r.revision);
        }),
      );
      for (const p of loads) p.catch(() => {}); // awaited in order below
      for (const [i, r] of revisions.entries()) {
        const loaded = await loads[i]!.catch((e) => {
          if (!o.onUnreadable || !(isDbkError(e, 'MISSING_CHUNKS') || isDbkError(e, 'CORRUPT'))) throw e;
          o.onUnreadable(r, e);
        });
        if (loaded) cache.add(r.snapshotId, r.revision, loaded.set, loaded.revision, r.fileSize);
        loads[i] = undefined as never; // let the set go
        o.onProgress?.(++done, missing.length);
      }
    }),
  );
}

const key = (r: RevisionRef) => `${r.snapshotId}/${r.revision}`;
