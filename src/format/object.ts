// The envelope of every object dbk stores except the config: chunks, metadata chunks, revision
// files and fossil-collection records. A 6-byte header names the format version, what kind of
// object it is, and how the payload is transformed (zstd, AES-256-GCM); encrypted objects carry a
// random nonce and authenticate the header too, so a flipped flag cannot pass for another format.
//
//   "DBK" | version (1) | kind | flags | [nonce (12)] | payload | [GCM tag (16)]

import { type Cipher, type Decipher, createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { decompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js'; // CommonJS: no named exports
import { corrupt } from '../errors.js';

const MAGIC = [0x44, 0x42, 0x4b]; // "DBK"
export const OBJECT_VERSION = 1;
const HEADER = 6;
const NONCE = 12;
const TAG = 16;

export const ObjectKind = { CHUNK: 1, REVISION: 2, FOSSIL_COLLECTION: 3 } as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];

const FLAG_ZSTD = 1;
const FLAG_AES_GCM = 2;

export interface EncodeOptions {
  kind: ObjectKind;
  /** AES-256 key; absent on plain storages */
  key?: Uint8Array;
  /** zstd level; 0 turns compression off */
  compressionLevel: number;
}

/** Compression must save at least this fraction, or the chunk is stored as it is. */
const MIN_SAVING = 1 / 32;

/** The most bytes an object of `length` plaintext bytes can take. */
export function encodedBound(length: number, encrypted: boolean): number {
  return HEADER + (encrypted ? NONCE + TAG : 0) + Math.max(length, zstdBinding.compressBound(length));
}

/** Seals `plain` into a new object that owns its memory. */
export function encodeObject(plain: Uint8Array, o: EncodeOptions): Buffer {
  const out = Buffer.allocUnsafeSlow(encodedBound(plain.length, o.key !== undefined));
  return Buffer.from(out.subarray(0, encodeObjectInto(plain, o, out)));
}

/**
 * Seals `plain` into `out` (encodedBound() bytes at least; either may be shared memory) and
 * returns the object's length. A backup passes gigabytes through here: zstd writes straight into
 * `out`, and the only buffers made are the cipher's output, a piece at a time (cipherInPlace).
 */
export function encodeObjectInto(plain: Uint8Array, o: EncodeOptions, out: Uint8Array): number {
  const headLength = HEADER + (o.key ? NONCE : 0);
  const payload = out.subarray(headLength, out.length - (o.key ? TAG : 0));
  let length = plain.length;
  let flags = 0;
  if (o.compressionLevel > 0 && plain.length > 64) {
    const n = (compressContext ??= new zstdBinding.CCtx()).compress(payload, plain, o.compressionLevel);
    if (n < plain.length * (1 - MIN_SAVING)) {
      length = n;
      flags |= FLAG_ZSTD;
    }
  }
  if (!(flags & FLAG_ZSTD)) payload.set(plain);
  if (o.key) flags |= FLAG_AES_GCM;
  out.set([...MAGIC, OBJECT_VERSION, o.kind, flags]);
  if (!o.key) return HEADER + length;
  const nonce = randomFillSync(out.subarray(HEADER, headLength));
  const cipher = createCipheriv('aes-256-gcm', o.key, nonce);
  cipher.setAAD(out.subarray(0, headLength));
  cipherInPlace(cipher, payload.subarray(0, length));
  cipher.final();
  out.set(cipher.getAuthTag(), headLength + length);
  return headLength + length + TAG;
}

let compressContext: zstdBinding.CCtx | undefined;

/** A cipher's output is a new buffer each call: a megabyte, not a whole chunk of up to 16 MiB, waits for the collector. */
const CIPHER_PIECE = 1 << 20;

/**
 * Encrypts or decrypts `bytes` over themselves. The output never overtakes the input (a cipher may hold a
 * partial block back, never give more than it was given), so no byte is overwritten unread.
 */
function cipherInPlace(cipher: Cipher | Decipher, bytes: Uint8Array): void {
  let written = 0;
  for (let at = 0; at < bytes.length; at += CIPHER_PIECE) {
    const out = cipher.update(bytes.subarray(at, Math.min(at + CIPHER_PIECE, bytes.length)));
    bytes.set(out, written);
    written += out.length;
  }
  if (written !== bytes.length) throw new Error(`the cipher gave ${written} of ${bytes.length} bytes`);
}

export interface DecodeExpectation {
  kind: ObjectKind;
  key?: Uint8Array;
  maxLength: number;
  what: string;
  /** the data is the caller's to lose: it is decrypted over itself, in pieces, not into a new buffer */
  inPlace?: boolean;
}

/**
 * Opens an object. Throws DbkError CORRUPT for anything malformed: wrong magic or version, a kind
 * other than expected, failed authentication, undecodable compression, or a payload longer than
 * `maxLength` after decompression.
 */
export function decodeObject(data: Uint8Array, expect: DecodeExpectation): Buffer {
  const { payload, compressed } = openObject(data, expect);
  if (!compressed) return Buffer.from(payload);
  try {
    return decompress(payload);
  } catch (e) {
    throw corrupt(expect.what, `cannot decompress: ${(e as Error).message}`);
  }
}

/**
 * Opens an object whose plaintext is exactly `into.length` bytes straight into `into` (which may
 * be shared memory): no buffer of its own. Throws CORRUPT as decodeObject does, and when the
 * plaintext has another length.
 */
export function decodeObjectInto(data: Uint8Array, expect: Omit<DecodeExpectation, 'maxLength'>, into: Uint8Array): void {
  const { payload, compressed } = openObject(data, { ...expect, maxLength: into.length });
  const wrongLength = (n: number) => corrupt(expect.what, `${n} bytes where ${into.length} were expected`);
  if (!compressed) {
    if (payload.length !== into.length) throw wrongLength(payload.length);
    into.set(payload);
    return;
  }
  const declared = zstdContentSize(payload);
  if (declared !== into.length) throw wrongLength(declared ?? -1);
  let n: number;
  try {
    n = (decompressContext ??= new zstdBinding.DCtx()).decompress(into, payload);
  } catch (e) {
    throw corrupt(expect.what, `cannot decompress: ${(e as Error).message}`);
  }
  if (n !== into.length) throw wrongLength(n);
}

let decompressContext: zstdBinding.DCtx | undefined;

/** Checks the envelope and decrypts: the payload, still compressed when the flag says so. */
function openObject(data: Uint8Array, expect: DecodeExpectation): { payload: Buffer; compressed: boolean } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < HEADER || MAGIC.some((b, i) => buf[i] !== b)) throw corrupt(expect.what, 'not a dbk object');
  if (buf[3] !== OBJECT_VERSION) throw corrupt(expect.what, `unsupported object version ${buf[3]}`);
  if (buf[4] !== expect.kind) throw corrupt(expect.what, `object of kind ${buf[4]} where kind ${expect.kind} was expected`);
  const flags = buf[5] ?? 0;
  if (flags & ~(FLAG_ZSTD | FLAG_AES_GCM)) throw corrupt(expect.what, `unknown flags ${flags}`);
  let payload = buf.subarray(HEADER);
  if (flags & FLAG_AES_GCM) {
    if (!expect.key) throw corrupt(expect.what, 'encrypted, but the storage is not');
    payload = openSealed(buf, expect.key, expect.what, expect.inPlace ?? false);
  } else if (expect.key) {
    throw corrupt(expect.what, 'not encrypted, but the storage is');
  }
  const compressed = (flags & FLAG_ZSTD) !== 0;
  if (!compressed && payload.length > expect.maxLength) throw corrupt(expect.what, `${payload.length} bytes, more than the allowed ${expect.maxLength}`);
  if (compressed) {
    const declared = zstdContentSize(payload);
    if (declared === undefined || declared > expect.maxLength) throw corrupt(expect.what, 'compressed payload of unknown or excessive size');
  }
  return { payload, compressed };
}

function openSealed(buf: Buffer, key: Uint8Array, what: string, inPlace: boolean): Buffer {
  if (buf.length < HEADER + NONCE + TAG) throw corrupt(what, 'truncated');
  const head = buf.subarray(0, HEADER + NONCE);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(HEADER, HEADER + NONCE));
  decipher.setAAD(head);
  decipher.setAuthTag(buf.subarray(buf.length - TAG));
  const sealed = buf.subarray(HEADER + NONCE, buf.length - TAG);
  try {
    const body = inPlace ? (cipherInPlace(decipher, sealed), sealed) : decipher.update(sealed);
    decipher.final();
    return body;
  } catch {
    throw corrupt(what, 'authentication failed (damaged, or encrypted with another key)');
  }
}

/** The content size a zstd frame header declares (encodeObjectInto() always writes it), or undefined. */
function zstdContentSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6 || frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return undefined;
  const fhd = frame[4] ?? 0;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const dictIdFlag = fhd & 3;
  const pos = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictIdFlag]!;
  const size = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (size === 0 || frame.length < pos + size) return undefined;
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (size === 1) return view.readUInt8(pos);
  if (size === 2) return view.readUInt16LE(pos) + 256;
  if (size === 4) return view.readUInt32LE(pos);
  const big = view.readBigUInt64LE(pos);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}
