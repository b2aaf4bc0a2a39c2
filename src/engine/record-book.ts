// The prune records on the storage as one command sees them, and how they keep the local cache
// honest: a record tells of chunks that became fossils or were deleted, fossils brought back and
// revisions deleted. Each part of the cache applies every record it has not applied yet, so a
// cache made before another client's prune never vouches for a chunk that prune removed.

import type { ChunkListing } from '../../cache/chunk-list-cache.js';
import { forgetRecordsExcept, markRecordsApplied } from '../../cache/journal.js';
import type { StorageCache } from '../../cache/storage-cache.js';
import { forgetVerified } from '../../cache/verified-chunks.js';
import type { FossilRecord } from '../format/fossil-collection.js';
import type { ChunkId } from '../format/ids.js';
import { listFossilRecords, readFossilRecord } from './fossil-records.js';
import type { Repository } from './repository.js';

export class RecordBook {
  private readonly loaded = new Map<string, Promise<FossilRecord>>();

  private constructor(
    private readonly repo: Repository,
    /** record names on the storage when the book was opened, oldest first */
    public names: string[],
  ) {}

  static async open(repo: Repository): Promise<RecordBook> {
    return new RecordBook(repo, await listFossilRecords(repo));
  }

  get(name: string): Promise<FossilRecord> {
    let p = this.loaded.get(name);
    if (!p) this.loaded.set(name, (p = readFossilRecord(this.repo, name)));
    return p;
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
    const records = await Promise.all(fresh.map((n) => this.get(n)));
    const deletedNumbers = records.flatMap((r) => (r.kind === 'deletion' ? numbersOf(cache, r.deleted) : []));
    cache.db.transaction(() => {
      for (const r of records) for (const d of r.deletedRevisions) cache.revisions.remove(d.snapshotId, [d.revision]);
      forgetVerified(cache.db, deletedNumbers);
      markRecordsApplied(cache.db, 'revisions', fresh);
    }).immediate();
  }

  /** Brings a chunk listing up to date with the records it has not seen; returns their names. */
  async applyToListing(cache: StorageCache, listing: ChunkListing, applied: ReadonlySet<string>): Promise<string[]> {
    const fresh = this.names.filter((n) => !applied.has(n));
    for (const name of fresh) applyRecordToListing(cache, listing, await this.get(name));
    return fresh;
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
