// The chunk list a check or prune works from: a fresh listing of chunks/ (written to the cache),
// or, with --from-cache, the cached one brought up to date with the prune records it has not seen.
// Either way a chunk the list lacks may still exist (uploaded since, or listed mid-prune), so
// callers look such chunks up directly before calling them missing (confirmPresence).

import pLimit from 'p-limit';
import type { FoundFiles } from '../../backends/backend.js';
import { listTree } from '../../backends/list-tree.js';
import { ChunkListing } from '../../cache/chunk-list-cache.js';
import type { StorageCache } from '../../cache/storage-cache.js';
import { DAY_MS } from '../clock.js';
import { type ChunkId, chunkListingInto, chunkPath, fossilPath } from '../format/ids.js';
import type { Logger } from '../log.js';
import type { Repository } from '../storage/repository.js';
import { ListedChunks } from './listed-chunks.js';
import type { RecordBook } from './record-book.js';

export interface ListingInfo {
  source: 'storage' | 'cache';
  /** milliseconds since the epoch when the listing was made */
  listedAt: number;
  chunks: number;
  fossils: number;
}

/**
 * A cached list older than this is not used: prune deletion records (which keep a cached list
 * honest) are kept on the storage for DELETION_RECORD_DAYS, longer than this, so every record
 * made since a usable list was listed is still there to be applied.
 */
export const CACHED_LIST_MAX_DAYS = 30;

export interface ChunkListingOptions {
  fromCache: boolean;
  onProgress?: (entries: number) => void;
  signal?: AbortSignal;
  log: Logger;
}

export async function obtainChunkListing(repo: Repository, cache: StorageCache, book: RecordBook, o: ChunkListingOptions): Promise<{ listing: ChunkListing; info: ListingInfo }> {
  if (o.fromCache) {
    const cached = cache.loadListing();
    const ageDays = cached ? (Date.now() - cached.listedAt) / DAY_MS : 0;
    if (!cached) {
      o.log.warn('there is no cached chunk list yet: listing the storage');
    } else if (ageDays > CACHED_LIST_MAX_DAYS) {
      o.log.warn(`the cached chunk list is ${Math.floor(ageDays)} days old (more than ${CACHED_LIST_MAX_DAYS}): listing the storage`);
    } else {
      const applied = cache.appliedRecords('chunks');
      const fresh = await book.applyToListing(cache, cached, applied);
      if (fresh.length > 0) cache.saveListing(cached, [...applied, ...fresh]);
      return { listing: cached, info: describe(cached, 'cache') };
    }
  }
  const known = [...book.names]; // records made before the listing are reflected in it
  const listedAt = Date.now();
  const listing = await listStorage(repo, cache, listedAt, o);
  await book.refresh(); // records made while listing may or may not be: apply them to be sure
  const fresh = await book.applyToListing(cache, listing, new Set(known));
  cache.saveListing(listing, [...known, ...fresh]);
  return { listing, info: describe(listing, 'storage') };
}

async function listStorage(repo: Repository, cache: StorageCache, listedAt: number, o: ChunkListingOptions): Promise<ChunkListing> {
  const listed = new ListedChunks();
  const progress = o.onProgress;
  const found: FoundFiles = progress
    ? (folder, files) => {
        listed.add(folder, files);
        progress(listed.count);
      }
    : listed.add;
  await listTree(repo.backend, 'chunks', { threads: repo.threads, ...(o.signal ? { signal: o.signal } : {}) }, found);
  const dict = cache.dictionary();
  const numbers = dict.intern(listed.idBytes());
  const listing = ChunkListing.empty(listedAt, dict.size);
  for (let i = 0; i < listed.count; i++) {
    if (listed.isFossil(i)) listing.setFossil(numbers[i]!, listed.size(i));
    else listing.setChunk(numbers[i]!, listed.size(i));
  }
  return listing;
}

function describe(listing: ChunkListing, source: ListingInfo['source']): ListingInfo {
  return { source, listedAt: listing.listedAt, chunks: listing.count('chunks'), fossils: listing.count('fossils') };
}

/** How many listed chunks a check from a cached list looks up directly, to catch a list gone stale. */
export const SPOT_CHECKS = 64;

/**
 * Looks up a random sample of the referenced chunks that a cached listing says exist; returns the
 * id of one that does not (the list no longer describes the storage), or undefined.
 * Prune records keep a cached list honest about what dbk deleted; this catches what others did.
 */
export async function spotCheckListing(repo: Repository, cache: StorageCache, listing: ChunkListing, referenced: Uint8Array, sample = SPOT_CHECKS): Promise<string | undefined> {
  const listed: number[] = [];
  for (let n = 0; n < referenced.length; n++) if (referenced[n] && listing.chunkSize(n) !== undefined) listed.push(n);
  for (let i = 0; i < Math.min(sample, listed.length); i++) {
    const j = i + Math.floor(Math.random() * (listed.length - i));
    [listed[i], listed[j]] = [listed[j]!, listed[i]!];
  }
  const ids = cache.chunkIdsAt(listed.slice(0, sample)) as ChunkId[];
  const limit = pLimit(repo.smallCalls);
  const gone = await Promise.all(ids.map((id) => limit(async () => ((await repo.backend.stat(chunkPath(id))) ? undefined : id))));
  return gone.find((id) => id !== undefined);
}

export interface Presence {
  /** stored size of the chunk, when it exists as a chunk */
  chunk?: number;
  /** stored size of its fossil, when one exists */
  fossil?: number;
}

/** Looks chunks up on the storage one by one (for ids a listing lacks); records what it finds in the listing. */
export async function confirmPresence(repo: Repository, listing: ChunkListing, wanted: { n: number; id: ChunkId }[], fossils: boolean): Promise<Map<number, Presence>> {
  const limit = pLimit(repo.smallCalls);
  const out = new Map<number, Presence>();
  await Promise.all(
    wanted.map(({ n, id }) =>
      limit(async () => {
        const p: Presence = {};
        const st = await repo.backend.stat(chunkPath(id));
        if (st && !st.dir) p.chunk = st.size;
        if (fossils) {
          const f = await repo.backend.stat(fossilPath(id));
          if (f && !f.dir) p.fossil = f.size;
        }
        listing.setChunk(n, p.chunk);
        if (fossils) listing.setFossil(n, p.fossil);
        out.set(n, p);
      }),
    ),
  );
  return out;
}

/**
 * Every chunk (not fossil) on the storage as it is now, by id: what a copy onto it need not send.
 * A set of every id, for copies; check and prune keep their listings more compactly.
 */
export async function listChunkIds(repo: Repository): Promise<Set<ChunkId>> {
  const ids = new Set<ChunkId>();
  const id = Buffer.alloc(32);
  await listTree(repo.backend, 'chunks', { threads: repo.threads }, (folder, files) => {
    for (const f of files) if (chunkListingInto(folder, f.name, id, 0) === 'chunk') ids.add(id.toString('hex') as ChunkId);
  });
  return ids;
}
