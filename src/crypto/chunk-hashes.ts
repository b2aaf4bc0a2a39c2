// What a backup hashes of a chunk once it is cut: its keyed hash (its name, see keys.ts) and the
// SHA-256 of every file lying wholly within it (a file entry's content hash), into one buffer.
// Most files are far smaller than a chunk, so most are hashed here, a chunk's files at once: the
// reader's thread, which hashed each file as it read it, was the busiest of a backup, and a call
// and a hex string per file cost more than the hashing (see backup/stream-reader-worker.ts).

import { createHmac, hash } from 'node:crypto';
import { native } from '../native-module.js';

export const HASH_BYTES = 32;

/**
 * The chunk's keyed hash, then the SHA-256 of each range of it in `files` (pairs of start and
 * length), HASH_BYTES each, in a buffer of its own (one that a worker can move).
 */
export function chunkAndFileHashes(hashKey: Uint8Array, chunk: Uint8Array, files: Uint32Array): Buffer {
  const out = Buffer.allocUnsafeSlow(HASH_BYTES * (1 + files.length / 2));
  out.set(createHmac('sha256', hashKey).update(chunk).digest());
  sha256Ranges(chunk, files, out.subarray(HASH_BYTES));
  return out;
}

function sha256Ranges(data: Uint8Array, ranges: Uint32Array, out: Uint8Array): void {
  if (native?.sha256Ranges) {
    native.sha256Ranges(data, ranges, out);
    return;
  }
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i]!;
    out.set(hash('sha256', data.subarray(start, start + ranges[i + 1]!), 'buffer'), (i / 2) * HASH_BYTES);
  }
}
