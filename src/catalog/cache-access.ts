// How commands reach the local cache of their storage: open it where the settings say, run a
// command's work against it, and if the cache turns out to be damaged, empty it and run the work
// once more (everything in it can be recomputed). With `snapshot_chunk_ids_cache` set to false
// the revision chunk sets live in memory for the run only: the naive path, every revision loaded.

import { type Db, isCacheDamage, openMemoryCacheDb } from '../../cache/cache-db.js';
import { RevisionCache } from '../../cache/revision-cache.js';
import { StorageCache } from '../../cache/storage-cache.js';
import { boolSetting } from '../settings.js';
import type { Repository } from '../storage/repository.js';
import { ChunkNumbering } from './chunk-numbering.js';

export function idCacheEnabled(repo: Repository): boolean {
  return boolSetting(repo.settings, 'snapshot_chunk_ids_cache', true);
}

/** The cache and what a command derives from it once per run. */
export interface CacheSession {
  cache: StorageCache;
  /** the revision chunk sets: the persistent cache, or a transient one when it is turned off */
  revisions: RevisionCache;
  /** hash → number, made on first use (it loads the dictionary) */
  numbering(): ChunkNumbering;
}

export async function withStorageCache<T>(repo: Repository, work: (s: CacheSession) => Promise<T>): Promise<T> {
  const cache = StorageCache.open({ dir: repo.cacheDir, log: repo.log });
  const transient: Db[] = [];
  const session = (): CacheSession => {
    let numbering: ChunkNumbering | undefined;
    let revisions = cache.revisions;
    if (!idCacheEnabled(repo)) {
      transient.push(openMemoryCacheDb(repo.log));
      revisions = new RevisionCache(transient[transient.length - 1]!);
    }
    return { cache, revisions, numbering: () => (numbering ??= new ChunkNumbering(repo, cache.dictionary())) };
  };
  try {
    try {
      return await work(session());
    } catch (e) {
      if (!isCacheDamage(e)) throw e;
      cache.reset((e as Error).message);
      return await work(session());
    }
  } finally {
    for (const db of transient) db.close();
    cache.close();
  }
}
