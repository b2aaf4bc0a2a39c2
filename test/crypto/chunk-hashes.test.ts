// A chunk's hashes, its keyed hash and then each of its files' SHA-256, are the same whether the
// native module takes the files' (one call a chunk) or Node does (where the module is not built,
// or is one from before sha256Ranges): they name chunks and check restored files.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { expect, it, vi } from 'vitest';
import { chunkAndFileHashes, HASH_BYTES } from '../../src/crypto/chunk-hashes.js';
import { native as seenByHashes } from '../../src/native-module.js';

vi.mock('../../src/native-module.js', () => ({ native: undefined }));
const { native } = await vi.importActual<typeof import('../../src/native-module.js')>('../../src/native-module.js');

const key = randomBytes(32);
const chunk = randomBytes(100_003);
// a file at the start, empty ones, one in the middle, one to the end, the whole chunk
const files = Uint32Array.from([0, 10, 10, 0, 500, 99_000, 100_003, 0, 99_500, 503, 0, 100_003]);

function expected(): Buffer {
  const parts = [createHmac('sha256', key).update(chunk).digest()];
  for (let i = 0; i < files.length; i += 2)
    parts.push(
      createHash('sha256')
        .update(chunk.subarray(files[i]!, files[i]! + files[i + 1]!))
        .digest(),
    );
  return Buffer.concat(parts);
}

it('gives the chunk’s keyed hash, then each file’s SHA-256, without the native module', () => {
  expect(seenByHashes).toBeUndefined();
  const hashes = chunkAndFileHashes(key, chunk, files);
  expect(hashes.length).toBe(HASH_BYTES * 7);
  expect(hashes.equals(expected())).toBe(true);
  expect(chunkAndFileHashes(key, chunk, new Uint32Array(0)).equals(expected().subarray(0, HASH_BYTES))).toBe(true);
});

it.skipIf(!native?.sha256Ranges)('takes the same SHA-256s natively, and refuses a range beyond the data or too little room', () => {
  const out = Buffer.alloc(HASH_BYTES * 6);
  native!.sha256Ranges!(chunk, files, out);
  expect(out.equals(expected().subarray(HASH_BYTES))).toBe(true);
  expect(() => native!.sha256Ranges!(chunk, Uint32Array.from([100_000, 4]), Buffer.alloc(HASH_BYTES))).toThrow(/beyond the data/);
  expect(() => native!.sha256Ranges!(chunk, Uint32Array.from([1, 0xffffffff]), Buffer.alloc(HASH_BYTES))).toThrow(/beyond the data/);
  expect(() => native!.sha256Ranges!(chunk, Uint32Array.from([0, 4]), Buffer.alloc(HASH_BYTES - 1))).toThrow(/32 bytes of room/);
  expect(() => native!.sha256Ranges!(chunk, Uint32Array.from([0]), Buffer.alloc(0))).toThrow(/pairs/);
});
