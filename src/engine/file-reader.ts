// Reads the files to back up in order, as one stream of pieces, with a window of small files
// read ahead in parallel so 100,000 small files do not cost 100,000 serial round trips through
// the thread pool. A file that vanished or cannot be read is reported, never fatal.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface ReadItem<T> {
  file: T;
  /** the file's bytes, in order; empty for an empty file */
  pieces: AsyncIterable<Buffer>;
}

const SMALL = 4 << 20;
const PIECE = 4 << 20;
const WINDOW_FILES = 32;
const WINDOW_BYTES = 64 << 20;

/** Yields each file with an iterator of its pieces; the caller must consume pieces before moving on. */
export async function* readInOrder<T extends { path: string; size: number }>(root: string, files: readonly T[]): AsyncGenerator<ReadItem<T>> {
  const ahead = new Map<number, Promise<Buffer>>();
  let next = 0; // next file index to start reading ahead
  let aheadBytes = 0;
  const fill = (from: number) => {
    next = Math.max(next, from);
    while (next < files.length && ahead.size < WINDOW_FILES && aheadBytes < WINDOW_BYTES) {
      const f = files[next]!;
      if (f.size > SMALL) break; // large files are streamed when their turn comes
      const p = fs.readFile(path.join(root, f.path));
      p.catch(() => {}); // reported when consumed
      ahead.set(next, p);
      aheadBytes += f.size;
      next++;
    }
  };
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    fill(i);
    const early = ahead.get(i);
    if (early) {
      ahead.delete(i);
      aheadBytes -= file.size;
      yield { file, pieces: once(early) };
    } else {
      yield { file, pieces: streamFile(path.join(root, file.path)) };
      next = Math.max(next, i + 1);
    }
  }
}

async function* once(p: Promise<Buffer>): AsyncGenerator<Buffer> {
  yield await p;
}

async function* streamFile(file: string): AsyncGenerator<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(PIECE);
      const { bytesRead } = await fh.read(buf, 0, PIECE, null);
      if (bytesRead === 0) return;
      yield bytesRead === PIECE ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
