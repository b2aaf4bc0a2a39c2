// The chunk-file list cache: what the last full listing of chunks/ found (each chunk's stored size,
// and the fossils), by dictionary number, with the time of the listing. Sizes are one flat uint32
// array (4 MB per million chunks), read and written as a single blob; fossils are few and kept as
// a set with their sizes.

import { corrupt } from '../src/errors.js';
import type { Db } from './cache-db.js';
import { dictionaryPages, PAGE_IDS } from './chunk-dictionary.js';
import { decodeIntSet, encodeIntSet, type IntSet } from './int-sets.js';
import { replaceAppliedRecords } from './journal.js';

/** Marks a number with no chunk (or no fossil). Real sizes are far below it (chunks are at most a few MiB). */
export const ABSENT = 0xffffffff;

export class ChunkListing {
  constructor(
    /** milliseconds since the epoch when the listing started */
    readonly listedAt: number,
    private sizes: Uint32Array = new Uint32Array(0),
    private fossils: Uint32Array = new Uint32Array(0),
  ) {}

  /** An empty listing with room for `capacity` numbers. */
  static empty(listedAt: number, capacity: number): ChunkListing {
    return new ChunkListing(listedAt, new Uint32Array(capacity).fill(ABSENT));
  }

  /** Stored size of chunk n, or undefined when the listing has no such chunk. */
  chunkSize(n: number): number | undefined {
    const s = this.sizes[n];
    return s === undefined || s === ABSENT ? undefined : s;
  }

  fossilSize(n: number): number | undefined {
    const s = this.fossils[n];
    return s === undefined || s === ABSENT ? undefined : s;
  }

  setChunk(n: number, size: number | undefined): void {
    this.sizes = setSize(this.sizes, n, size);
  }

  setFossil(n: number, size: number | undefined): void {
    this.fossils = setSize(this.fossils, n, size);
  }

  /** The raw size array (ABSENT where no chunk), for scans over every number. */
  get chunkSizes(): Uint32Array {
    return this.sizes;
  }

  /** How many chunks (or fossils) the listing holds. */
  count(which: 'chunks' | 'fossils'): number {
    const a = which === 'chunks' ? this.sizes : this.fossils;
    let n = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== ABSENT) n++;
    return n;
  }

  /** Numbers of every chunk (or fossil) in the listing. */
  numbers(which: 'chunks' | 'fossils'): number[] {
    const a = which === 'chunks' ? this.sizes : this.fossils;
    const out: number[] = [];
    for (let n = 0; n < a.length; n++) if (a[n] !== ABSENT) out.push(n);
    return out;
  }
}

function setSize(a: Uint32Array, n: number, size: number | undefined): Uint32Array {
  if (n >= a.length) {
    if (size === undefined) return a;
    const grown = new Uint32Array(Math.max(n + 1, a.length * 2)).fill(ABSENT);
    grown.set(a);
    a = grown;
  }
  a[n] = size ?? ABSENT;
  return a;
}

export function hasChunkListing(db: Db): boolean {
  return db.prepare('SELECT 1 FROM chunk_list WHERE slot = 1').get() !== undefined;
}

export function loadChunkListing(db: Db): ChunkListing | undefined {
  const row = db.prepare('SELECT listed_at, sizes, fossils, fossil_sizes FROM chunk_list WHERE slot = 1').get() as
    | { listed_at: number; sizes: Buffer; fossils: Buffer; fossil_sizes: Buffer }
    | undefined;
  if (!row) return undefined;
  if (row.sizes.length % 4 !== 0 || row.fossil_sizes.length % 4 !== 0) throw corrupt('cache chunk list', 'size arrays of odd length');
  // every number is one of the dictionary's: checked before an array is sized by one
  const capacity = dictionaryPages(db) * PAGE_IDS;
  if (row.sizes.length / 4 > capacity) throw corrupt('cache chunk list', `${row.sizes.length / 4} sizes for a dictionary of ${capacity} ids at most`);
  const sizes = new Uint32Array(row.sizes.length / 4);
  Buffer.from(sizes.buffer).set(row.sizes);
  const fossilNumbers = decodeIntSet(row.fossils, 'cache chunk list fossils');
  if (fossilNumbers.length > 0 && fossilNumbers[fossilNumbers.length - 1]! >= capacity) throw corrupt('cache chunk list', `a fossil numbered beyond the dictionary's ${capacity} ids`);
  if (fossilNumbers.length * 4 !== row.fossil_sizes.length) throw corrupt('cache chunk list', 'fossil sizes do not match the fossils');
  const fossilSizes = new Uint32Array(fossilNumbers.length);
  Buffer.from(fossilSizes.buffer).set(row.fossil_sizes);
  const listing = new ChunkListing(row.listed_at, sizes);
  for (const [i, n] of fossilNumbers.entries()) listing.setFossil(n, fossilSizes[i]!);
  return listing;
}

/**
 * Stores a listing in place of the previous one, together with the prune records it already
 * reflects (those on the storage when the listing started, plus any applied to it since).
 */
export function saveChunkListing(db: Db, listing: ChunkListing, appliedRecords: Iterable<string>): void {
  const fossilNumbers: IntSet = Int32Array.from(listing.numbers('fossils'));
  const fossilSizes = Uint32Array.from(fossilNumbers, (n) => listing.fossilSize(n)!);
  const sizes = listing.chunkSizes;
  db.transaction(() => {
    db.prepare('INSERT OR REPLACE INTO chunk_list (slot, listed_at, sizes, fossils, fossil_sizes) VALUES (1, ?, ?, ?, ?)').run(
      listing.listedAt,
      Buffer.from(sizes.buffer, sizes.byteOffset, sizes.byteLength),
      encodeIntSet(fossilNumbers),
      Buffer.from(fossilSizes.buffer),
    );
    replaceAppliedRecords(db, 'chunks', appliedRecords);
  }).immediate();
}
