// Chunk hashes and chunk ids. The hash is the keyed hash of a chunk's plaintext: it verifies the
// chunk and, on encrypted storages, derives its key, so it is only ever kept inside (encrypted)
// revision metadata. The id is the keyed hash of the hash: the chunk's file name on the storage,
// revealing nothing about the content.

import { corrupt } from '../errors.js';

/** 32-byte keyed hash of a chunk's plaintext, as 64 lower-case hex digits */
export type ChunkHash = string & { readonly __brand: 'ChunkHash' };
/** 32-byte keyed hash of a ChunkHash, as 64 lower-case hex digits: the chunk's name on the storage */
export type ChunkId = string & { readonly __brand: 'ChunkId' };

export const HASH_BYTES = 32;
const HEX64 = /^[0-9a-f]{64}$/;

export function asChunkHash(hex: string): ChunkHash {
  if (!HEX64.test(hex)) throw corrupt('chunk hash', `not 64 hex digits: ${hex.slice(0, 80)}`);
  return hex as ChunkHash;
}

export function asChunkId(hex: string): ChunkId {
  if (!HEX64.test(hex)) throw corrupt('chunk id', `not 64 hex digits: ${hex.slice(0, 80)}`);
  return hex as ChunkId;
}

export const FOSSIL_SUFFIX = '.fsl';

/** Where a chunk lives on the storage: chunks/<2 hex>/<62 hex> */
export function chunkPath(id: ChunkId): string {
  return `chunks/${id.slice(0, 2)}/${id.slice(2)}`;
}

/** Where a chunk lives while it is a fossil (prune step 1 renamed it) */
export function fossilPath(id: ChunkId): string {
  return chunkPath(id) + FOSSIL_SUFFIX;
}

/** value of a lower-case hex digit by character code, -1 for anything else */
const NIBBLE = new Int8Array(128).fill(-1);
for (let c = 0; c < 16; c++) NIBBLE['0123456789abcdef'.charCodeAt(c)] = c;

/**
 * Reads a file listed in chunks/ (folder "ab", name "cdef…" or "cdef….fsl") as the 32 bytes of
 * its id, written to `out` at `offset`. Returns 'chunk' or 'fossil', or undefined for files that
 * are not chunks (foreign files are ignored, never deleted; `out` may then hold part of a key).
 * Check and prune read millions of these, so it decodes by character code: no slices, no regex.
 */
export function chunkListingInto(folder: string, name: string, out: Uint8Array, offset: number): 'chunk' | 'fossil' | undefined {
  const fossil = name.length === 62 + FOSSIL_SUFFIX.length && name.endsWith(FOSSIL_SUFFIX);
  if (folder.length !== 2 || (name.length !== 62 && !fossil)) return undefined;
  if (!hexByteInto(folder, 0, out, offset)) return undefined;
  for (let i = 1; i < HASH_BYTES; i++) if (!hexByteInto(name, 2 * i - 2, out, offset + i)) return undefined;
  return fossil ? 'fossil' : 'chunk';
}

/** Decodes the two hex digits at text[at…at+1] into out[offset]; false when they are not hex. */
function hexByteInto(text: string, at: number, out: Uint8Array, offset: number): boolean {
  const hi = NIBBLE[text.charCodeAt(at)] ?? -1;
  const lo = NIBBLE[text.charCodeAt(at + 1)] ?? -1;
  out[offset] = (hi << 4) | lo;
  return (hi | lo) >= 0;
}
