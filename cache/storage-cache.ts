// The local cache of one storage, as the engine uses it: one SQLite file holding the chunk-id
// dictionary, the chunk-file list, the per-revision chunk sets, verified chunks and which prune
// records each part has applied. Everything here can be recomputed from the storage, so a damaged
// cache is simply emptied (reset) and filled again.

import { corrupt } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { clearCache, type Db, openCacheDb } from './cache-db.js';
import { ChunkDictionary, dictionaryPages, PAGE_IDS, readChunkIdsAt } from './chunk-dictionary.js';
import { type ChunkListing, hasChunkListing, loadChunkListing, saveChunkListing } from './chunk-list-cache.js';
import { appliedRecords, type JournalScope } from './journal.js';
import { RevisionCache } from './revision-cache.js';
import { markVerified, verifiedChunks } from './verified-chunks.js';

export interface StorageCacheOptions {
  /** the folder of the cache file: the `cache_dir` setting, else .dbk/cache/<storage> */
  dir: string;
  log: Logger;
}

export class StorageCache {
  revisions: RevisionCache;
  private dict: ChunkDictionary | undefined;

  private constructor(
    readonly db: Db,
    readonly dir: string,
    private readonly log: Logger,
  ) {
    this.revisions = new RevisionCache(db);
  }

  static open(o: StorageCacheOptions): StorageCache {
    return new StorageCache(openCacheDb(o.dir, o.log), o.dir, o.log);
  }

  /** The chunk-id dictionary, read once per process (it is only needed where ids meet numbers). */
  dictionary(): ChunkDictionary {
    this.dict ??= ChunkDictionary.load(this.db);
    return this.dict;
  }

  /** The chunk ids of some numbers, as hex; when they fall on few pages, read without loading the dictionary. */
  chunkIdsAt(numbers: readonly number[]): string[] {
    const pagesTouched = new Set(numbers.map((n) => Math.floor(n / PAGE_IDS))).size;
    if (!this.dict && pagesTouched > dictionaryPages(this.db) / 2) this.dictionary();
    const ids = this.dict ? numbers.map((n) => (n < this.dict!.size ? this.dict!.hexAt(n) : undefined)) : readChunkIdsAt(this.db, numbers);
    return ids.map((id, i) => {
      if (id === undefined) throw corrupt('cache dictionary', `no chunk id numbered ${numbers[i]}`);
      return id;
    });
  }

  /** Whether a chunk list is stored, without reading it. */
  hasListing(): boolean {
    return hasChunkListing(this.db);
  }

  loadListing(): ChunkListing | undefined {
    return loadChunkListing(this.db);
  }

  saveListing(listing: ChunkListing, appliedRecordNames: Iterable<string>): void {
    saveChunkListing(this.db, listing, appliedRecordNames);
  }

  appliedRecords(scope: JournalScope): Set<string> {
    return appliedRecords(this.db, scope);
  }

  verified(): Uint8Array {
    return verifiedChunks(this.db);
  }

  markVerified(numbers: Iterable<number>): void {
    markVerified(this.db, numbers);
  }

  /** Empties the cache after its contents failed to decode; the caller computes everything again. */
  reset(reason: string): void {
    this.log.warn(`the cache in ${this.dir} is damaged (${reason}); it is rebuilt`);
    clearCache(this.db);
    this.dict = undefined;
    this.revisions = new RevisionCache(this.db);
  }

  close(): void {
    this.db.close();
  }
}
