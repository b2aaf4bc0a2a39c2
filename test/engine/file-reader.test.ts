// The backup's file reader: every file's bytes in order, whole, whatever happened to the file
// between the scan (which gave the size) and the read.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInOrder } from '../../src/engine/file-reader.js';
import { seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

type File = { path: string; size: number };

/** digests, not bytes: comparing megabytes element by element takes the matcher tens of seconds */
const digest = (b: Buffer | Error) => (b instanceof Buffer ? `${b.length}:${createHash('sha256').update(b).digest('hex')}` : b);

async function readAll(root: string, files: File[]): Promise<(Buffer | Error)[]> {
  const out: (Buffer | Error)[] = [];
  for await (const item of readInOrder(root, files)) {
    const pieces: Buffer[] = [];
    try {
      for await (const piece of item.pieces) pieces.push(piece);
      out.push(Buffer.concat(pieces));
    } catch (e) {
      out.push(e as Error);
    }
  }
  return out;
}

describe('readInOrder', () => {
  const root = tempDir();
  const content = (name: string, size: number) => {
    const bytes = Buffer.alloc(size, seededBytes(9973, name)); // a prime period: misplaced pieces show
    writeFileSync(path.join(root, name), bytes);
    return bytes;
  };

  it('yields each file whole, in the given order, small and streamed alike', async () => {
    const files = [
      { name: 'b', size: 1 },
      { name: 'a', size: 70_000 },
      { name: 'big', size: (4 << 20) + 12_345 },
      { name: 'c', size: 4 << 20 },
    ];
    const expected = files.map((f) => content(f.name, f.size));
    const got = await readAll(root, files.map((f) => ({ path: f.name, size: f.size })));
    expect(got.map(digest)).toEqual(expected.map(digest));
  });

  it('reads a file that grew since the scan to its end, and one that shrank up to its end', async () => {
    const grown = content('grown', 50_000);
    const shrunk = content('shrunk', 300);
    const got = await readAll(root, [
      { path: 'grown', size: 1000 },
      { path: 'shrunk', size: 9000 },
    ]);
    expect(got.map(digest)).toEqual([grown, shrunk].map(digest));
  });

  it('reports a file that vanished as an error of that file only', async () => {
    const after = content('after', 2000);
    const got = await readAll(root, [
      { path: 'gone', size: 10 },
      { path: 'after', size: 2000 },
    ]);
    expect((got[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(digest(got[1]!)).toEqual(digest(after));
  });
});
