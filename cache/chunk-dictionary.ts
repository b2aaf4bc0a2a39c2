// The dictionary of chunk ids: every chunk id the cache has met gets a small integer once, for
// good, and everything else in the cache (revision chunk sets, the chunk list, verified chunks)
// speaks in those integers. Stored as pages of 8,192 ids (256 KiB blobs) so that loading a
// million ids is a few dozen reads, and numbers are handed out only inside a write transaction
// after reading what other processes appended meanwhile, so two processes never disagree.

import { corrupt } from '../src/errors.js';
import type { Db } from './cache-db.js';
import { IdTable, KEY_BYTES } from './id-table.js';

export const PAGE_IDS = 8192;
const PAGE_BYTES = PAGE_IDS * KEY_BYTES;

export class ChunkDictionary {
  private constructor(
    private readonly db: Db,
    private readonly table: IdTable,
  ) {}

  /** Reads the whole stored dictionary into memory. */
  static load(db: Db): ChunkDictionary {
    const count = db.prepare('SELECT COUNT(*) FROM dictionary').pluck().get() as number;
    const dict = new ChunkDictionary(db, new IdTable(count * PAGE_IDS + PAGE_IDS));
    dict.readPagesFrom(0);
    return dict;
  }

  /** How many ids have numbers. */
  get size(): number {
    return this.table.size;
  }

  /** The number of the id at `bytes[offset…offset+32)`, or -1 when it has none yet. */
  find(bytes: Uint8Array, offset = 0): number {
    return this.table.find(bytes, offset);
  }

  findHex(hex: string): number {
    return this.table.findHex(hex);
  }

  hexAt(n: number): string {
    return this.table.hexAt(n);
  }

  /** Numbers for a run of 32-byte ids, giving the unknown ones new numbers (stored before returning). */
  intern(ids: Uint8Array): Int32Array {
    const n = ids.length / KEY_BYTES;
    const out = new Int32Array(n);
    const missing: number[] = [];
    for (let i = 0; i < n; i++) {
      const found = this.table.find(ids, i * KEY_BYTES);
      if (found < 0) missing.push(i);
      out[i] = found;
    }
    if (missing.length === 0) return out;
    this.db
      .transaction(() => {
        this.readPagesFrom(Math.floor(this.table.size / PAGE_IDS));
        const firstNew = this.table.size;
        for (const i of missing) out[i] = this.table.add(ids, i * KEY_BYTES);
        this.writePages(firstNew, this.table.size);
      })
      .immediate();
    return out;
  }

  /** Numbers for ids given as hex, as intern() does. */
  internHex(hexes: readonly string[]): Int32Array {
    const buf = Buffer.allocUnsafe(hexes.length * KEY_BYTES);
    for (const [i, h] of hexes.entries()) buf.write(h, i * KEY_BYTES, 'hex');
    return this.intern(buf);
  }

  /** Adds the ids stored from page `first` on that this process does not know yet. */
  private readPagesFrom(first: number): void {
    const rows = this.db.prepare('SELECT page, ids FROM dictionary WHERE page >= ? ORDER BY page').all(first) as { page: number; ids: Buffer }[];
    rows.forEach((row, i) => {
      const last = i === rows.length - 1;
      if (row.page !== first + i || row.ids.length % KEY_BYTES !== 0 || (!last && row.ids.length !== PAGE_BYTES) || row.ids.length === 0) {
        throw corrupt('cache dictionary', `page ${row.page} is out of place or of the wrong size`);
      }
      for (let k = this.table.size - row.page * PAGE_IDS; k < row.ids.length / KEY_BYTES; k++) {
        const expected = row.page * PAGE_IDS + k;
        if (this.table.add(row.ids, k * KEY_BYTES) !== expected) throw corrupt('cache dictionary', `id ${expected} appears twice`);
      }
    });
  }

  private writePages(from: number, to: number): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO dictionary (page, ids) VALUES (?, ?)');
    for (let page = Math.floor(from / PAGE_IDS); page * PAGE_IDS < to; page++) {
      put.run(page, this.table.keyBytes(page * PAGE_IDS, Math.min(to, (page + 1) * PAGE_IDS)));
    }
  }
}

/**
 * The ids of some numbers, as hex, read page by page without loading the whole dictionary (for a
 * few numbers, where building the dictionary's table would cost more). Undefined where none.
 */
export function readChunkIdsAt(db: Db, numbers: readonly number[]): (string | undefined)[] {
  const read = db.prepare('SELECT ids FROM dictionary WHERE page = ?').pluck();
  const pages = new Map<number, Buffer | undefined>();
  return numbers.map((n) => {
    const p = Math.floor(n / PAGE_IDS);
    if (!pages.has(p)) pages.set(p, read.get(p) as Buffer | undefined);
    const page = pages.get(p);
    const at = (n % PAGE_IDS) * KEY_BYTES;
    return page && at + KEY_BYTES <= page.length ? page.toString('hex', at, at + KEY_BYTES) : undefined;
  });
}

/** How many pages the stored dictionary has. */
export function dictionaryPages(db: Db): number {
  return db.prepare('SELECT COUNT(*) FROM dictionary').pluck().get() as number;
}

/** Each stored page in order, its ids back to back: a pass over every id without building the table. */
export function* storedPages(db: Db): Generator<{ page: number; ids: Buffer }> {
  yield* db.prepare('SELECT page, ids FROM dictionary ORDER BY page').iterate() as IterableIterator<{ page: number; ids: Buffer }>;
}
