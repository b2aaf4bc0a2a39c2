// The prune records on the storage as one command sees them, and how they keep the local cache
// honest: a record tells of chunks that became fossils or were deleted, fossils brought back and
// revisions deleted. Each part of the cache applies every record it has not applied yet, so a
// cache made before another client's prune never vouches for a chunk that prune removed.
//
// A damaged record (or one of a newer dbk) is reported and passed over where that is safe: a cache
// that misses one only vouches less (a chunk it lists is looked up before it is trusted to be gone
// or there). Prune completes no collection while one cannot be read, since it may claim the same
// fossils for backups still running (prune-planner.ts).

import type { ChunkListing } from '../../cache/chunk-list-cache.js';
import { forgetRecordsExcept, markRecordsApplied } from '../../cache/journal.js';
import type { StorageCache } from '../../cache/storage-cache.js';
import { forgetVerified } from '../../cache/verified-chunks.js';
import { isDbkError } from '../errors.js';
import type { FossilRecord } from '../format/fossil-collection.js';
import type { ChunkId } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';
import { listFossilRecords, readFossilRecord, recordPath } from './fossil-records.js';

export class RecordBook {
  private readonly loaded = new Map<string, Promise<FossilRecord | undefined>>();
  /** records that could not be read, with why */
  readonly damaged = new Map<string, string>();

  private constructor(
    private readonly repo: Repository,
    /** record names on the storage when the book was opened, oldest first */
    public names: string[],
  ) {}

  static async open(repo: Repository): Promise<RecordBook> {
    return new RecordBook(repo, await listFossilRecords(repo));
  }

  /** A record, or undefined when it is damaged (or gone: completed by another prune meanwhile). */
  get(name: string): Promise<FossilRecord | undefined> {
    let p = this.loaded.get(name);
    if (!p) this.loaded.set(name, (p = readFossilRecord(this.repo, name).catch((e: unknown) => this.passOver(name, e))));
    return p;
  }

  private passOver(name: string, e: unknown): undefined {
    if (isDbkError(e, 'NOT_FOUND')) return undefined;
    if (!isDbkError(e, 'CORRUPT')) throw e;
    this.damaged.set(name, e.message);
    this.repo.log.warn(`${e.message}: no prune completes a collection while it cannot be read (remove ${recordPath(name)} once no backup is running)`);
    return undefined;
  }

  /** Lists the storage again; returns the names that appeared since. */
  async refresh(): Promise<string[]> {
    const known = new Set(this.names);
    this.names = await listFossilRecords(this.repo);
    return this.names.filter((n) => !known.has(n));
  }

  /** Drops cached revisions that records deleted and forgets verified chunks they deleted. */
  async applyToRevisionCache(cache: StorageCache): Promise<void> {
    forgetRecordsExcept(cache.db, 'revisions', new Set(this.names));
    const applied = cache.appliedRecords('revisions');
    const fresh = this.names.filter((n) => !applied.has(n));
    if (fresh.length === 0) return;
    const read = await Promise.all(fresh.map(async (name) => ({ name, record: await this.get(name) })));
    const records = read.flatMap((r) => (r.record ? [r.record] : []));
    const deletedNumbers = records.flatMap((r) => (r.kind === 'deletion' ? numbersOf(cache, r.deleted) : []));
    cache.db
      .transaction(() => {
        for (const r of records) for (const d of r.deletedRevisions) cache.revisions.remove(d.snapshotId, [d.revision]);
        forgetVerified(cache.db, deletedNumbers);
        markRecordsApplied(
          cache.db,
          'revisions',
          read.filter((r) => r.record).map((r) => r.name),
        );
      })
      .immediate();
  }

  /** Brings a chunk listing up to date with the records it has not seen; returns their names. */
  async applyToListing(cache: StorageCache, listing: ChunkListing, applied: ReadonlySet<string>): Promise<string[]> {
    const fresh = this.names.filter((n) => !applied.has(n));
    const done: string[] = [];
    for (const name of fresh) {
      const record = await this.get(name);
      if (!record) continue; // applied once it can be read, if ever
      applyRecordToListing(cache, listing, record);
      done.push(name);
    }
    return done;
  }
}

function applyRecordToListing(cache: StorageCache, listing: ChunkListing, r: FossilRecord): void {
  const dict = cache.dictionary();
  const each = (ids: readonly ChunkId[], fn: (n: number) => void) => {
    for (const id of ids) {
      const n = dict.findHex(id);
      if (n >= 0) fn(n); // an id the cache never met is in no cached listing
    }
  };
  if (r.kind === 'collection') {
    each(r.fossils, (n) => {
      const size = listing.chunkSize(n) ?? listing.fossilSize(n);
      listing.setChunk(n, undefined);
      if (size !== undefined) listing.setFossil(n, size);
    });
    return;
  }
  each(r.deleted, (n) => {
    listing.setChunk(n, undefined);
    listing.setFossil(n, undefined);
  });
  each(r.resurrected, (n) => {
    const size = listing.fossilSize(n) ?? listing.chunkSize(n);
    listing.setFossil(n, undefined);
    if (size !== undefined) listing.setChunk(n, size);
  });
}

function numbersOf(cache: StorageCache, ids: readonly ChunkId[]): number[] {
  const dict = cache.dictionary();
  return ids.map((id) => dict.findHex(id)).filter((n) => n >= 0);
}
