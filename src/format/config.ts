// The storage's `config` file: chunking parameters and keys, fixed at init for the storage's life.
// On an encrypted storage the JSON is sealed with a key derived from the password (scrypt,
// parameters stored in the clear beside it); on a plain one it is stored with a checksum.
//
//   "DBKC" | version (1) | 2 | JSON | SHA-256 of all before it (32)     plain
//   "DBKC" | version (1) | 1 | logN | r | p | salt (16) | nonce (12) | sealed JSON | tag (16)
//   "DBKC" | version (1) | 0 | JSON                                      plain, written before checksums
//
// Whoever can write the storage can write its config, so nothing in it is trusted before it is
// bounded: the key derivation's cost is checked before it runs (the password cannot be checked
// without running it), and chunk sizes before any buffer is sized by them.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { deriveKeyFromPassword, type KdfParams, type StorageKeys } from '../crypto/keys.js';
import { corrupt, DbkError } from '../errors.js';

const MAGIC = Buffer.from('DBKC');
export const CONFIG_VERSION = 1;
const PLAIN_UNCHECKED = 0;
const SEALED = 1;
const PLAIN = 2;
const CHECKSUM = 32;

/** The largest data chunk a storage may ask for: restore holds three of them. */
export const MAX_CHUNK_SIZE = 64 << 20;
/** The largest metadata chunk: file lists and hash sequences are read a few of them at a time. */
export const MAX_METADATA_CHUNK_SIZE = 4 << 20;
/** scrypt memory (128·r·N bytes) a config may ask for: four times the default. */
export const MAX_KDF_MEMORY = 256 << 20;
/** scrypt work (N·r·p) a config may ask for: eight times the default, a few seconds. */
export const MAX_KDF_WORK = 2 ** 22;

export interface ChunkSizes {
  average: number;
  minimum: number;
  maximum: number;
}

export interface StorageConfig {
  /** data chunks: set at init with -c, -min, -max */
  chunkSizes: ChunkSizes;
  /** metadata chunks (file lists, hash sequences): smaller, so an unchanged part costs nothing */
  metadataChunkSizes: ChunkSizes;
  /** zstd level for new objects; 0 = off */
  compressionLevel: number;
  keys: StorageKeys;
  encrypted: boolean;
}

/** Whether two storages give every chunk the same id and cut the same chunks: what `dbk copy` needs. */
export const sameChunkKeys = (a: StorageKeys, b: StorageKeys) => Buffer.from(a.hashKey).equals(b.hashKey) && Buffer.from(a.idKey).equals(b.idKey) && Buffer.from(a.chunkSeed).equals(b.chunkSeed);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: unknown, what: string): Buffer => {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw corrupt('config', `bad ${what}`);
  return Buffer.from(s, 'hex');
};

function toJson(c: StorageConfig): Buffer {
  const { keys } = c;
  return Buffer.from(
    JSON.stringify({
      chunkSizes: c.chunkSizes,
      metadataChunkSizes: c.metadataChunkSizes,
      compressionLevel: c.compressionLevel,
      hashKey: hex(keys.hashKey),
      idKey: hex(keys.idKey),
      chunkSeed: hex(keys.chunkSeed),
      ...(keys.encryptionKey ? { encryptionKey: hex(keys.encryptionKey) } : {}),
    }),
  );
}

function sizes(v: unknown, what: string, largest: number): ChunkSizes {
  const s = v as ChunkSizes;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 64 && (n as number) <= largest;
  if (!s || !ok(s.average) || !ok(s.minimum) || !ok(s.maximum) || !(s.minimum <= s.average && s.average <= s.maximum)) {
    throw corrupt('config', `bad ${what}`);
  }
  return { average: s.average, minimum: s.minimum, maximum: s.maximum };
}

function fromJson(buf: Buffer, encrypted: boolean): StorageConfig {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(buf.toString('utf8'));
  } catch {
    throw corrupt('config', 'not valid JSON');
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw corrupt('config', 'not a JSON object');
  const level = j.compressionLevel;
  if (!Number.isInteger(level) || (level as number) < 0 || (level as number) > 22) throw corrupt('config', 'bad compressionLevel');
  if (encrypted !== (j.encryptionKey !== undefined)) throw corrupt('config', 'encryption key does not match the header');
  return {
    chunkSizes: sizes(j.chunkSizes, 'chunkSizes', MAX_CHUNK_SIZE),
    metadataChunkSizes: sizes(j.metadataChunkSizes, 'metadataChunkSizes', MAX_METADATA_CHUNK_SIZE),
    compressionLevel: level as number,
    encrypted,
    keys: {
      hashKey: unhex(j.hashKey, 'hashKey'),
      idKey: unhex(j.idKey, 'idKey'),
      chunkSeed: unhex(j.chunkSeed, 'chunkSeed'),
      ...(encrypted ? { encryptionKey: unhex(j.encryptionKey, 'encryptionKey') } : {}),
    },
  };
}

export async function encodeConfig(c: StorageConfig, seal?: { password: string; kdf: KdfParams }): Promise<Buffer> {
  const json = toJson(c);
  if (!c.encrypted) {
    const body = Buffer.concat([MAGIC, Buffer.from([CONFIG_VERSION, PLAIN]), json]);
    return Buffer.concat([body, sha256(body)]);
  }
  if (!seal) throw new DbkError('CONFIG', 'an encrypted config needs a password');
  const { kdf } = seal;
  checkKdfCost(kdf.logN, kdf.r, kdf.p);
  const key = await deriveKeyFromPassword(seal.password, kdf);
  const head = Buffer.concat([MAGIC, Buffer.from([CONFIG_VERSION, SEALED, kdf.logN, kdf.r, kdf.p]), Buffer.from(kdf.salt)]);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(json), cipher.final()]);
  return Buffer.concat([head, nonce, body, cipher.getAuthTag()]);
}

/** What a config tells without its password: its version, and whether and how it is sealed. */
export function configHeader(data: Buffer): { version: number; encrypted: boolean; kdf?: { algorithm: 'scrypt'; logN: number; r: number; p: number } } {
  if (!configIsEncrypted(data)) return { version: data[4]!, encrypted: false };
  if (data.length < 9) throw corrupt('config', 'truncated');
  return { version: data[4]!, encrypted: true, kdf: { algorithm: 'scrypt', logN: data[6]!, r: data[7]!, p: data[8]! } };
}

/** True when the stored config needs a password to open. */
export function configIsEncrypted(data: Buffer): boolean {
  checkHeader(data);
  return data[5] === SEALED;
}

function checkHeader(data: Buffer): void {
  if (data.length < 6 || !data.subarray(0, 4).equals(MAGIC)) throw corrupt('config', 'not a dbk storage config');
  if (data[4] !== CONFIG_VERSION) throw corrupt('config', `unsupported config version ${data[4]}; a newer dbk wrote it`);
  if (data[5] !== PLAIN_UNCHECKED && data[5] !== SEALED && data[5] !== PLAIN) throw corrupt('config', `unknown config flags ${data[5]}`);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

function plainJson(data: Buffer): Buffer {
  if (data[5] === PLAIN_UNCHECKED) return data.subarray(6);
  const end = data.length - CHECKSUM;
  if (end < 6 || !sha256(data.subarray(0, end)).equals(data.subarray(end))) throw corrupt('config', 'checksum mismatch (the file is damaged)');
  return data.subarray(6, end);
}

/**
 * Refuses key-derivation parameters beyond dbk's limits before they cost anything: a config of
 * logN 22, r 8, p 255 would keep every command busy for hours at 4 GiB.
 */
function checkKdfCost(logN: number, r: number, p: number): void {
  if (logN < 10 || r < 1 || p < 1) throw corrupt('config', `bad key-derivation parameters (scrypt logN ${logN}, r ${r}, p ${p})`);
  const memory = 128 * r * 2 ** logN;
  const work = 2 ** logN * r * p;
  if (memory > MAX_KDF_MEMORY || work > MAX_KDF_WORK) {
    throw new DbkError(
      'CONFIG',
      `the storage's config asks for a key derivation (scrypt logN ${logN}, r ${r}, p ${p}: ${Math.round(memory / 2 ** 20)} MiB, ${work / 2 ** 19}× the default work) beyond what dbk allows (${MAX_KDF_MEMORY / 2 ** 20} MiB, ${MAX_KDF_WORK / 2 ** 19}×)`,
      {
        hint: 'a damaged or hostile config; restore it from a copy of the storage',
      },
    );
  }
}

export async function decodeConfig(data: Buffer, password?: string): Promise<StorageConfig> {
  if (!configIsEncrypted(data)) return fromJson(plainJson(data), false);
  if (password === undefined) throw new DbkError('WRONG_PASSWORD', 'the storage is encrypted and no password was given');
  const headLen = 9 + 16;
  if (data.length < headLen + 12 + 16) throw corrupt('config', 'truncated');
  const [logN, r, p] = [data[6]!, data[7]!, data[8]!];
  checkKdfCost(logN, r, p);
  const key = await deriveKeyFromPassword(password, { algorithm: 'scrypt', logN, r, p, salt: data.subarray(9, headLen) });
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(headLen, headLen + 12));
  decipher.setAAD(data.subarray(0, headLen));
  decipher.setAuthTag(data.subarray(data.length - 16));
  let json: Buffer;
  try {
    json = Buffer.concat([decipher.update(data.subarray(headLen + 12, data.length - 16)), decipher.final()]);
  } catch {
    throw new DbkError('WRONG_PASSWORD', 'wrong password for this storage (or its config is damaged)', {
      hint: 'set DBK_PASSWORD (or DBK_<STORAGE>_PASSWORD) to the password given at init',
    });
  }
  return fromJson(json, true);
}
