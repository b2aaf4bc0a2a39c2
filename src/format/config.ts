// The storage's `config` file: chunking parameters and keys, fixed at init for the storage's life.
// On an encrypted storage the JSON is sealed with a key derived from the password (scrypt,
// parameters stored in the clear beside it); on a plain one it is stored as it is.
//
//   "DBKC" | version (1) | 0 → plain JSON
//   "DBKC" | version (1) | 1 | logN | r | p | salt (16) | nonce (12) | sealed JSON | tag (16)

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DbkError, corrupt } from '../errors.js';
import { type KdfParams, type StorageKeys, deriveKeyFromPassword } from '../crypto/keys.js';

const MAGIC = Buffer.from('DBKC');
export const CONFIG_VERSION = 1;

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

function sizes(v: unknown, what: string): ChunkSizes {
  const s = v as ChunkSizes;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 64 && (n as number) <= 1 << 30;
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
    chunkSizes: sizes(j.chunkSizes, 'chunkSizes'),
    metadataChunkSizes: sizes(j.metadataChunkSizes, 'metadataChunkSizes'),
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
  if (!c.encrypted) return Buffer.concat([MAGIC, Buffer.from([CONFIG_VERSION, 0]), json]);
  if (!seal) throw new DbkError('CONFIG', 'an encrypted config needs a password');
  const { kdf } = seal;
  const key = await deriveKeyFromPassword(seal.password, kdf);
  const head = Buffer.concat([MAGIC, Buffer.from([CONFIG_VERSION, 1, kdf.logN, kdf.r, kdf.p]), Buffer.from(kdf.salt)]);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(json), cipher.final()]);
  return Buffer.concat([head, nonce, body, cipher.getAuthTag()]);
}

/** True when the stored config needs a password to open. */
export function configIsEncrypted(data: Buffer): boolean {
  checkHeader(data);
  return data[5] === 1;
}

function checkHeader(data: Buffer): void {
  if (data.length < 6 || !data.subarray(0, 4).equals(MAGIC)) throw corrupt('config', 'not a dbk storage config');
  if (data[4] !== CONFIG_VERSION) throw corrupt('config', `unsupported config version ${data[4]}; a newer dbk wrote it`);
  if (data[5] !== 0 && data[5] !== 1) throw corrupt('config', `unknown config flags ${data[5]}`);
}

export async function decodeConfig(data: Buffer, password?: string): Promise<StorageConfig> {
  if (!configIsEncrypted(data)) return fromJson(data.subarray(6), false);
  if (password === undefined) throw new DbkError('WRONG_PASSWORD', 'the storage is encrypted and no password was given');
  const headLen = 9 + 16;
  if (data.length < headLen + 12 + 16) throw corrupt('config', 'truncated');
  const [logN, r, p] = [data[6]!, data[7]!, data[8]!];
  if (logN < 10 || logN > 24 || r < 1 || p < 1) throw corrupt('config', 'bad key-derivation parameters');
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
