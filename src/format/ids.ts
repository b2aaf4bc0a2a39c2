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

const FOSSIL_SUFFIX = '.fsl';

/** Where a chunk lives on the storage: chunks/<2 hex>/<62 hex> */
export function chunkPath(id: ChunkId): string {
  return `chunks/${id.slice(0, 2)}/${id.slice(2)}`;
}

/** Where a chunk lives while it is a fossil (prune step 1 renamed it) */
export function fossilPath(id: ChunkId): string {
  return chunkPath(id) + FOSSIL_SUFFIX;
}

/**
 * Reads a path relative to chunks/ ("ab/cdef…" or "ab/cdef….fsl") back into an id.
 * Returns undefined for names that are not chunks (foreign files are ignored, never deleted).
 */
export function parseChunkListing(relPath: string): { id: ChunkId; fossil: boolean } | undefined {
  const fossil = relPath.endsWith(FOSSIL_SUFFIX);
  const bare = fossil ? relPath.slice(0, -FOSSIL_SUFFIX.length) : relPath;
  if (bare.length !== 65 || bare[2] !== '/') return undefined;
  const hex = bare.slice(0, 2) + bare.slice(3);
  return HEX64.test(hex) ? { id: hex as ChunkId, fossil } : undefined;
}
