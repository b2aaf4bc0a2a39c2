// The content-defined chunker: cut points depend on content and seed only, never on how the
// stream is split into pieces; sizes stay within bounds and cluster around the average.

import { createHash, randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { Chunker, CutFinder } from '../../src/chunking/fastcdc.js';
import type { ChunkSizes } from '../../src/format/config.js';
import { native } from '../../src/native-module.js';
import { nativeMissing } from '../../src/tree/native-fs.js';
import { seededBytes } from '../support/engine.js';

const sizes: ChunkSizes = { average: 4096, minimum: 1024, maximum: 16384 };
const seedA = Buffer.alloc(32, 1);
const seedB = Buffer.alloc(32, 2);
const data = seededBytes(1 << 20, 'chunker');

/** Chunk lengths of `input` fed in pieces of the given sizes (cycled), then finished. */
function cut(input: Buffer, pieceSizes: number[] = [input.length], s: ChunkSizes = sizes, seed: Uint8Array = seedA): Buffer[] {
  const c = new Chunker(s, seed, implementation);
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < input.length; i++) {
    const n = Math.max(1, pieceSizes[i % pieceSizes.length]!);
    out.push(...c.push(input.subarray(pos, pos + n)));
    pos += n;
  }
  const last = c.finish();
  if (last) out.push(last);
  return out;
}
const lengths = (chunks: Buffer[]) => chunks.map((c) => c.length);

function expectWithinBounds(chunks: Buffer[], s: ChunkSizes, total: number): void {
  expect(Buffer.concat(chunks).length).toBe(total);
  chunks.forEach((c, i) => {
    expect(c.length, `chunk ${i}`).toBeLessThanOrEqual(s.maximum);
    expect(c.length, `chunk ${i}`).toBeGreaterThan(0);
    if (i < chunks.length - 1) expect(c.length, `chunk ${i}`).toBeGreaterThanOrEqual(s.minimum);
  });
}

it('scans in the native module where that is built', () => {
  if (nativeMissing === undefined) expect(native?.gearScan).toBeTypeOf('function');
});

/** The loop the chunkers below use: the native one (where the module is built), then the JavaScript one; both must find the same cuts. */
let implementation = { inJavaScript: false };

describe.each([
  { name: 'native loop', inJavaScript: false },
  { name: 'JavaScript loop', inJavaScript: true },
])('chunker, $name', ({ inJavaScript }) => {
  implementation = { inJavaScript }; // for what is cut while the tests are collected
  beforeEach(() => {
    implementation = { inJavaScript };
  });

  const whole = cut(data);

  it('reproduces the stream exactly', () => {
    expect(Buffer.concat(whole).equals(data)).toBe(true);
  });

  it('cuts at the same points however the stream is split into pieces', () => {
    const splits = [[1], [7], [1023], [1024], [1025], [4096], [16384], [16385], [100_000], [3, 50_000, 1, 17, 9000]];
    for (const pieces of splits) expect(lengths(cut(data, pieces)), `pieces of ${pieces.join(',')}`).toEqual(lengths(whole));
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed; // a small LCG: random-looking splits, the same on every run
      const random = Array.from({ length: 64 }, () => 1 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % 40_000));
      expect(lengths(cut(data, random)), `random pieces ${random.join(',')}`).toEqual(lengths(whole));
    }
  });

  it('keeps every chunk within minimum and maximum, and near the average', () => {
    expectWithinBounds(whole, sizes, data.length);
    const mean = data.length / whole.length;
    expect(mean).toBeGreaterThan(sizes.average / 2);
    expect(mean).toBeLessThan(sizes.average * 2);
  });

  it('cuts data without content (all zeros) at the maximum', () => {
    const zeros = Buffer.alloc(100_000);
    const chunks = cut(zeros, [999]);
    expectWithinBounds(chunks, sizes, zeros.length);
    expect(
      lengths(chunks)
        .slice(0, -1)
        .every((n) => n === sizes.maximum),
    ).toBe(true);
  });

  it('with minimum = average = maximum, cuts fixed-size chunks however the stream is split', () => {
    const fixed: ChunkSizes = { average: 1024, minimum: 1024, maximum: 1024 };
    const input = data.subarray(0, 10_000);
    for (const pieces of [[input.length], [100], [1], [1024], [3000]]) {
      const chunks = cut(input, pieces, fixed);
      expect(Buffer.concat(chunks).equals(input), `pieces of ${pieces[0]}`).toBe(true);
      expect(lengths(chunks)).toEqual([...Array(9).fill(1024), 10_000 - 9 * 1024]);
    }
  });

  it('keeps bounds with minimum close to maximum', () => {
    const tight: ChunkSizes = { average: 2048, minimum: 2000, maximum: 2100 };
    for (const pieces of [[data.length], [77], [2050]]) expectWithinBounds(cut(data, pieces, tight), tight, data.length);
  });

  it('is deterministic for a seed, and different seeds cut differently', () => {
    expect(lengths(cut(data, [5000], sizes, Buffer.from(seedA)))).toEqual(lengths(whole));
    const other = lengths(cut(data, [data.length], sizes, seedB));
    expect(other).not.toEqual(lengths(whole));
    expectWithinBounds(cut(data, [data.length], sizes, seedB), sizes, data.length);
  });

  it('resynchronises after an insertion: only the chunks around the edit change', () => {
    const edited = Buffer.concat([data.subarray(0, 300_000), Buffer.from('X'), data.subarray(300_000)]);
    const before = new Set(whole.map((c) => c.toString('base64')));
    const changed = cut(edited).filter((c) => !before.has(c.toString('base64')));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(2);
  });

  it('finishes with nothing when nothing was fed, and with the whole input when it is below the minimum', () => {
    expect(new Chunker(sizes, seedA, implementation).finish()).toBeUndefined();
    const small = randomBytes(500);
    expect(cut(small, [7]).map((c) => c.equals(small))).toEqual([true]);
  });

  it('cuts where it always has: a storage deduplicates against the cut points of its earlier backups', () => {
    // lengths recorded from the byte-at-a-time implementation this one replaced
    const golden = (s: ChunkSizes, n: number) => {
      const c = new Chunker(s, Buffer.alloc(32, 3), implementation);
      const ls = lengths(c.push(seededBytes(n, 'golden')));
      const last = c.finish();
      if (last) ls.push(last.length);
      return [ls.length, createHash('sha256').update(ls.join(',')).digest('hex').slice(0, 16)];
    };
    expect(golden(sizes, 1 << 20)).toEqual([218, 'd569145fd492dd0e']);
    expect(golden({ average: 65536, minimum: 16384, maximum: 262144 }, 8 << 20)).toEqual([114, '4be74e0789bc0919']); // normal and large masks, min skip
  });

  it('finds the same cuts in place at any alignment of the memory it scans', () => {
    const expected = lengths(whole);
    for (const shift of [0, 1, 2, 3, 5]) {
      const memory = new Uint8Array(new SharedArrayBuffer(data.length + 8));
      memory.set(data, shift);
      const finder = new CutFinder(sizes, seedA, implementation);
      const found: number[] = [];
      for (let start = shift, pos = shift; pos < shift + data.length; ) {
        const end = Math.min(shift + data.length, pos + 3001); // pieces that split words
        const cut = finder.next(memory, pos, end);
        if (cut < 0) {
          pos = end;
          continue;
        }
        found.push(cut - start);
        start = pos = cut;
      }
      if (finder.length > 0) found.push(finder.length);
      expect(found, `shifted by ${shift}`).toEqual(expected);
    }
  });
});
