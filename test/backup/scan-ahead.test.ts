// The walk a backup starts before it opens the storage: it reads ahead no more than its limit,
// hands over every batch once and in order, fails where the walk would have, and a backup that
// ends before taking it ends the walk.

import { describe, expect, it } from 'vitest';
import { ScanAhead } from '../../src/backup/scan-ahead.js';
import type { ScannedEntry } from '../../src/tree/scanner.js';

const entry = (n: number): ScannedEntry => ({ path: `f${n}`, type: 'file', mode: 0o644, mtimeS: 0, mtimeNs: 0, size: n, uid: 0, gid: 0 });

/** A walk of `batches` batches of 10 entries, counting what was taken, failing at batch `failAt`. */
function walk(batches: number, failAt = -1) {
  const seen = { taken: 0, ended: false };
  async function* batchesOf(): AsyncGenerator<ScannedEntry[]> {
    try {
      for (let b = 0; b < batches; b++) {
        if (b === failAt) throw new Error('EACCES: the walk failed');
        seen.taken++;
        yield Array.from({ length: 10 }, (_, i) => entry(b * 10 + i));
      }
    } finally {
      seen.ended = true;
    }
  }
  return { seen, iterator: batchesOf() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

async function paths(batches: AsyncIterable<ScannedEntry[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of batches) out.push(...b.map((e) => e.path));
  return out;
}

describe('ScanAhead', () => {
  it('reads ahead up to its limit, then hands over everything in order', async () => {
    const { seen, iterator } = walk(20);
    const ahead = new ScanAhead(iterator, 45);
    await settle();
    expect(seen.taken).toBe(5); // 50 entries: the batch that reached the limit, no more
    expect(await paths(ahead)).toEqual(Array.from({ length: 200 }, (_, n) => `f${n}`));
    expect(seen.ended).toBe(true);
    await ahead.close();
  });

  it('a walk shorter than the limit is read whole', async () => {
    const { seen, iterator } = walk(3);
    const ahead = new ScanAhead(iterator, 1000);
    await settle();
    expect(seen.ended).toBe(true);
    expect(await paths(ahead)).toHaveLength(30);
  });

  it('a walk that fails while reading ahead fails after the batches before it', async () => {
    const { iterator } = walk(10, 2);
    const ahead = new ScanAhead(iterator, 1000);
    await settle();
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const b of ahead) got.push(...b.map((e) => e.path));
      })(),
    ).rejects.toThrow('EACCES: the walk failed');
    expect(got).toHaveLength(20);
  });

  it('close() before the backup takes the walk ends it', async () => {
    const { seen, iterator } = walk(100);
    const ahead = new ScanAhead(iterator, 30);
    await ahead.close();
    expect(seen.ended).toBe(true);
    expect(seen.taken).toBeLessThanOrEqual(3);
  });
});
