// Which chunks a backup need not send because the storage holds them already.
//
// The rule that keeps this safe with the two-step prune: a chunk is left out only on evidence that
// no prune can take it away before this backup's revision is written.
//   - The id's previous revision references it. No prune but -exclusive deletes an id's newest
//     revision, and -exclusive refuses while a backup is announced.
//   - A stat made after this backup announced itself finds it as a chunk. A collection that makes
//     it a fossil later lists the running backups after doing so, finds this one and waits for it;
//     by then this backup's revision references the fossil, which brings it back.
// What the cache's chunk list (or a listing) says of a chunk is older than the announcement: a
// collection may have made it a fossil and not yet written its record. So the list only chooses
// the chunks worth a stat; the others are sent at once. A chunk the list lacks but the storage has
// (uploaded since the listing) is refused by the storage's write-once rule and costs its bytes.

import { PAGE_IDS, storedPages } from '../../cache/chunk-dictionary.js';
import type { ChunkListing } from '../../cache/chunk-list-cache.js';
import { KEY_BYTES } from '../../cache/id-table.js';
import type { StorageCache } from '../../cache/storage-cache.js';
import { withStorageCache } from '../catalog/cache-access.js';
import { obtainChunkListing } from '../catalog/chunk-listing.js';
import { RecordBook } from '../catalog/record-book.js';
import type { ChunkId } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';

export class StoredChunks {
  constructor(
    /** referenced by the id's previous revision: trusted as they are */
    private readonly referenced: ReadonlySet<ChunkId>,
    /** the chunks the storage was last seen to hold */
    private readonly listed: ListedPrefixes,
    /** uploaded by an interrupted run of this backup */
    private readonly uploadedBefore: ReadonlySet<ChunkId>,
  ) {}

  isReferenced(id: ChunkId): boolean {
    return this.referenced.has(id);
  }

  /** The storage may hold it: a stat decides. */
  worthAsking(id: ChunkId): boolean {
    return this.uploadedBefore.has(id) || this.listed.has(id);
  }
}

/**
 * The chunks the storage was last seen to hold, when other snapshot ids share it: the cache's
 * chunk list, brought up to date with the prune records, or, when there is none, a listing made
 * now (and kept in the cache for check and prune). A storage only this id uses needs neither.
 */
export async function listedChunks(repo: Repository): Promise<ListedPrefixes> {
  // alone on its storage, an id's previous revision is all there is to know: its daily backup
  // does not read a cached list of millions of chunks for nothing
  if (!(await repo.listSnapshotIds()).some((id) => id !== repo.snapshotId)) return ListedPrefixes.none;
  return withStorageCache(repo, async ({ cache }) => {
    const cached = cache.hasListing();
    if (!cached) repo.log.info('other snapshot ids share this storage and the cache has no list of its chunks: listing them once');
    const { listing } = await obtainChunkListing(repo, cache, await RecordBook.open(repo), { fromCache: cached, log: repo.log });
    return ListedPrefixes.of(cache, listing);
  });
}

/**
 * The first 8 bytes of each listed chunk's id, sorted: 8 bytes a chunk, where a set of ids would
 * take ten times that. Two ids that share a prefix cost a stat, never a chunk.
 */
export class ListedPrefixes {
  static readonly none = new ListedPrefixes(new BigUint64Array(0));

  private constructor(private readonly prefixes: BigUint64Array) {}

  static of(cache: StorageCache, listing: ChunkListing): ListedPrefixes {
    const prefixes = new BigUint64Array(listing.count('chunks'));
    let count = 0;
    for (const { page, ids } of storedPages(cache.db)) {
      const first = page * PAGE_IDS;
      for (let k = 0; k * KEY_BYTES < ids.length && count < prefixes.length; k++) {
        if (listing.chunkSize(first + k) !== undefined) prefixes[count++] = ids.readBigUInt64BE(k * KEY_BYTES);
      }
    }
    return new ListedPrefixes(prefixes.subarray(0, count).sort());
  }

  get size(): number {
    return this.prefixes.length;
  }

  has(id: ChunkId): boolean {
    const p = BigInt(`0x${id.slice(0, 16)}`);
    let lo = 0;
    let hi = this.prefixes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.prefixes[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.prefixes.length && this.prefixes[lo] === p;
  }
}
