// Key material: the password KDF (scrypt from node:crypto: it runs on every command that opens an
// encrypted storage, and the pure-JS version took seconds where the native one takes a fraction
// of a second at the same cost parameters), sub-keys by HKDF (@noble/hashes), and the keyed hashes on
// the hot path (node:crypto HMAC, which uses the CPU's SHA extensions).

import { createHmac, randomBytes, scrypt } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { ChunkHash, ChunkId } from '../format/ids.js';

export interface KdfParams {
  algorithm: 'scrypt';
  /** log2 of scrypt's N */
  logN: number;
  r: number;
  p: number;
  salt: Uint8Array;
}

/**
 * Defaults: N = 2^16, r = 8, 64 MiB and about a third of a second here, the memory restic allows
 * its KDF; stored in the config, so they can grow later. Every command that opens an encrypted
 * storage pays for them, and their memory adds to its peak.
 */
export function newKdfParams(logN = 16): KdfParams {
  return { algorithm: 'scrypt', logN, r: 8, p: 1, salt: randomBytes(16) };
}

export async function deriveKeyFromPassword(password: string, k: KdfParams): Promise<Uint8Array> {
  const options = { N: 2 ** k.logN, r: k.r, p: k.p, maxmem: 128 * k.r * (2 ** k.logN + k.p + 2) };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), k.salt, 32, options, (e, key) => (e ? reject(e) : resolve(key))));
}

export function subKey(master: Uint8Array, purpose: string, salt: Uint8Array = new Uint8Array(0)): Uint8Array {
  return hkdf(sha256, master, salt, new TextEncoder().encode(`dbk ${purpose}`), 32);
}

/** The keys a storage's config holds. */
export interface StorageKeys {
  /** keys the chunk hash (plaintext → ChunkHash) */
  hashKey: Uint8Array;
  /** keys the chunk id (ChunkHash → ChunkId) */
  idKey: Uint8Array;
  /** master key for chunk and revision encryption; absent on plain storages */
  encryptionKey?: Uint8Array;
  /** seeds the chunker's gear table */
  chunkSeed: Uint8Array;
}

export function newStorageKeys(encrypted: boolean): StorageKeys {
  return {
    hashKey: randomBytes(32),
    idKey: randomBytes(32),
    chunkSeed: randomBytes(32),
    ...(encrypted ? { encryptionKey: randomBytes(32) } : {}),
  };
}

export function chunkHashOf(hashKey: Uint8Array, data: Uint8Array): ChunkHash {
  return createHmac('sha256', hashKey).update(data).digest('hex') as ChunkHash;
}

export function chunkIdOf(idKey: Uint8Array, hash: ChunkHash): ChunkId {
  return createHmac('sha256', idKey).update(Buffer.from(hash, 'hex')).digest('hex') as ChunkId;
}

/** The AES key of one chunk, bound to its hash: only a holder of the revision metadata can open it. */
export function chunkKey(encryptionKey: Uint8Array, hash: ChunkHash): Buffer {
  return createHmac('sha256', encryptionKey).update(Buffer.from(hash, 'hex')).digest();
}
