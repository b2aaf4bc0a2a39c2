// The head of a backup: the files read in order as one stream in a worker thread, cut into the
// same chunks a chunker fed the whole stream at once would cut, each chunk with its keyed hash and
// each file with its SHA-256, whatever happened to the file between the scan and the read.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FileRead, readStream, type StreamOptions } from '../../src/backup/stream-reader.js';
import { Chunker } from '../../src/chunking/fastcdc.js';
import { chunkHashOf } from '../../src/crypto/keys.js';
import { CodecPool } from '../../src/storage/codec-pool.js';
import { seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const chunkSizes = { minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10 };
const chunkSeed = seededBytes(32, 'seed');
const hashKey = seededBytes(32, 'hash key');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Every chunk and file result of a stream. Chunks are held a while and released out of order,
 * their bytes read only then: the ring must not reuse a chunk's bytes before its release.
 */
async function readAll(root: string, files: { path: string; size: number }[], o: Pick<StreamOptions, 'ringBytes' | 'hashChunk'> = {}) {
  const chunks: { data: Buffer; hash: string }[] = [];
  const reads: FileRead[] = [];
  const held: { index: number; view: Buffer; release: () => void }[] = [];
  const letGo = (k: number) => {
    const [h] = held.splice(k, 1);
    chunks[h!.index]!.data = Buffer.from(h!.view);
    h!.release();
  };
  for await (const e of readStream({ root, files, chunkSizes, chunkSeed, hashKey, ...o })) {
    if (e.kind === 'files') {
      reads.push(...e.reads);
      continue;
    }
    held.push({ index: chunks.length, view: e.data, release: e.release });
    chunks.push({ data: Buffer.alloc(0), hash: e.hash });
    if (held.length > 3) letGo(chunks.length % 3); // not always the oldest
  }
  while (held.length > 0) letGo(held.length - 1);
  return { chunks, reads };
}

describe('readStream', () => {
  const root = tempDir();
  const content = (name: string, size: number) => {
    const bytes = Buffer.alloc(size, seededBytes(9973, name)); // a prime period: misplaced pieces show
    writeFileSync(path.join(root, name), bytes);
    return bytes;
  };

  const hashedElsewhere = [
    { where: 'in the reader', hashChunk: undefined },
    { where: 'in a codec worker', hashChunk: (data: Uint8Array, files: Uint32Array) => pool.run({ op: 'hash', data, key: hashKey, files }) },
  ];
  const pool = new CodecPool(2);
  afterAll(() => pool.close());

  it.each(hashedElsewhere)('cuts the files, in order, into the chunks of the whole stream, with their hashes ($where) and the files’ hashes', async ({ hashChunk }) => {
    const files = [
      { name: 'b', size: 1 },
      { name: 'empty', size: 0 },
      { name: 'a', size: 70_000 },
      { name: 'big', size: (4 << 20) + 12_345 }, // more than one read
      { name: 'c', size: 4 << 20 },
    ];
    const bytes = files.map((f) => content(f.name, f.size));
    // a ring smaller than the stream (with room for the chunks readAll holds): the worker wraps,
    // and waits for the consumer
    const { chunks, reads } = await readAll(
      root,
      files.map((f) => ({ path: f.name, size: f.size })),
      { ringBytes: 10 * chunkSizes.maximum + 4099, ...(hashChunk ? { hashChunk } : {}) },
    );

    const whole = new Chunker(chunkSizes, chunkSeed);
    const expected = [...whole.push(Buffer.concat(bytes)), whole.finish()!];
    expect(chunks.map((c) => sha256(c.data))).toEqual(expected.map(sha256));
    expect(chunks.map((c) => c.hash)).toEqual(expected.map((c) => chunkHashOf(hashKey, c)));
    expect(reads.map((r) => [r.fed, Buffer.from(r.hash!).toString('hex'), r.error])).toEqual(bytes.map((b) => [b.length, sha256(b), undefined]));
  });

  // most files lie within a chunk, and are hashed with it: where the ring wraps, such a chunk's bytes move
  it.each(hashedElsewhere)('hashes small files with their chunks ($where): more than a message of them in one chunk, empty ones among them, the ring wrapping', async ({ hashChunk }) => {
    const sizes = Array.from({ length: 2500 }, (_, i) => (i % 7 === 0 ? 0 : i < 600 ? (i * 7919) % 300 : (i * 7919) % 3000));
    const bytes = sizes.map((size, i) => content(`small-${i}`, size));
    const { chunks, reads } = await readAll(
      root,
      sizes.map((size, i) => ({ path: `small-${i}`, size })),
      { ringBytes: 6 * chunkSizes.maximum + 4099, ...(hashChunk ? { hashChunk } : {}) },
    );
    expect(chunks.length).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b)).toBeGreaterThan(6 * chunkSizes.maximum + 4099);
    expect(reads.map((r) => [r.fed, Buffer.from(r.hash!).toString('hex')])).toEqual(bytes.map((b) => [b.length, sha256(b)]));
  });

  it('reads a file that grew since the scan to its end, and one that shrank up to its end', async () => {
    const grown = content('grown', 50_000);
    const shrunk = content('shrunk', 300);
    const { chunks, reads } = await readAll(root, [
      { path: 'grown', size: 1000 },
      { path: 'shrunk', size: 9000 },
    ]);
    expect(reads.map((r) => [r.fed, Buffer.from(r.hash!).toString('hex')])).toEqual([grown, shrunk].map((b) => [b.length, sha256(b)]));
    expect(sha256(Buffer.concat(chunks.map((c) => c.data)))).toBe(sha256(Buffer.concat([grown, shrunk])));
  });

  it('reports a file that vanished as an error of that file only', async () => {
    const after = content('after', 2000);
    const { reads } = await readAll(root, [
      { path: 'gone', size: 10 },
      { path: 'after', size: 2000 },
    ]);
    expect(reads[0]).toMatchObject({ fed: 0 });
    expect(reads[0]!.error).toMatch(/ENOENT/);
    expect(Buffer.from(reads[1]!.hash!).toString('hex')).toBe(sha256(after));
  });

  it('does not wait for a writer when a fifo has taken the place of a file', async () => {
    execFileSync('mkfifo', [path.join(root, 'now-a-fifo')]);
    const after = content('after-fifo', 100);
    const { reads } = await readAll(root, [
      { path: 'now-a-fifo', size: 10 },
      { path: 'after-fifo', size: 100 },
    ]);
    expect(reads[0]!.fed).toBe(0);
    expect(Buffer.from(reads[1]!.hash!).toString('hex')).toBe(sha256(after));
  });

  it('stops the worker when the consumer leaves early, even while the worker waits for room', async () => {
    content('long', 3 << 20);
    const files = Array.from({ length: 8 }, () => ({ path: 'long', size: 3 << 20 }));
    let seen = 0;
    for await (const e of readStream({ root, files, chunkSizes, chunkSeed, hashKey, ringBytes: 2 * chunkSizes.maximum })) {
      if (e.kind === 'chunk' && ++seen === 2) break; // none released: the ring is soon full
    }
    expect(seen).toBe(2);
  });
});
