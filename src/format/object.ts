// The envelope of every object dbk stores except the config: chunks, metadata chunks, revision
// files, prune records and running-backup announcements. A 6-byte header names the format
// version, what kind of object it is, and how the payload is transformed (zstd, AES-256-GCM);
// encrypted objects carry a random nonce and authenticate the header too, so a flipped flag
// cannot pass for another format. On a plain storage the small objects that nothing else verifies
// (revisions, records, announcements: a chunk is checked against its hash) end in a SHA-256 of
// everything before it.
//
//   "DBK" | version (1) | kind | flags | [nonce (12)] | payload | [GCM tag (16)] | [SHA-256 (32)]
//
// A compressed payload is exactly one zstd frame that declares its size: the reader allocates
// that size (checked against a limit for the kind first) and nothing more, whatever the input.

import { type Cipher, createCipheriv, createDecipheriv, createHash, type Decipher, randomFillSync } from 'node:crypto';
import zstdBinding from 'zstd-napi/binding.js'; // CommonJS: no named exports
import { corrupt } from '../errors.js';
import { native } from '../native-module.js';

const MAGIC = [0x44, 0x42, 0x4b]; // "DBK"
export const OBJECT_VERSION = 1;
const HEADER = 6;
const NONCE = 12;
const TAG = 16;

export const ObjectKind = { CHUNK: 1, REVISION: 2, FOSSIL_COLLECTION: 3, ANNOUNCEMENT: 4 } as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];

const FLAG_ZSTD = 1;
const FLAG_AES_GCM = 2;
const FLAG_CHECKSUM = 4;
const CHECKSUM = 32;

export interface EncodeOptions {
  kind: ObjectKind;
  /** AES-256 key; absent on plain storages */
  key?: Uint8Array;
  /** zstd level; 0 turns compression off */
  compressionLevel: number;
}

/** Plain objects of these kinds carry a checksum: nothing else would notice a flipped bit in them. */
const checksummed = (kind: number, key: Uint8Array | undefined) => key === undefined && kind !== ObjectKind.CHUNK;

/** Compression must save at least this fraction, or the chunk is stored as it is. */
const MIN_SAVING = 1 / 32;

/** The most bytes an object of `length` plaintext bytes can take. */
export function encodedBound(length: number, encrypted: boolean): number {
  return HEADER + (encrypted ? NONCE + TAG : CHECKSUM) + Math.max(length, zstdBinding.compressBound(length));
}

/** Seals `plain` into a new object that owns its memory. */
export function encodeObject(plain: Uint8Array, o: EncodeOptions): Buffer {
  const out = Buffer.allocUnsafeSlow(encodedBound(plain.length, o.key !== undefined));
  return Buffer.from(out.subarray(0, encodeObjectInto(plain, o, out)));
}

/**
 * Seals `plain` into `out` (encodedBound() bytes at least; either may be shared memory) and
 * returns the object's length. A backup passes gigabytes through here: zstd writes straight into
 * `out`, and the cipher works over it (seal) without a buffer of its own.
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
  if (checksummed(o.kind, o.key)) flags |= FLAG_CHECKSUM;
  out.set([...MAGIC, OBJECT_VERSION, o.kind, flags]);
  if (!o.key) {
    if (!(flags & FLAG_CHECKSUM)) return HEADER + length;
    out.set(sha256(out.subarray(0, HEADER + length)), HEADER + length);
    return HEADER + length + CHECKSUM;
  }
  const nonce = randomFillSync(out.subarray(HEADER, headLength));
  seal(o.key, nonce, out.subarray(0, headLength), payload.subarray(0, length), out.subarray(headLength + length, headLength + length + TAG));
  return headLength + length + TAG;
}

let compressContext: zstdBinding.CCtx | undefined;

/** AES-256-GCM over `data` itself, authenticating `aad` too; the tag goes to `tag`. */
function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array): void {
  if (native?.aesGcm) {
    native.aesGcm(true, key, nonce, aad, data, tag);
    return;
  }
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  cipherInPlace(cipher, data);
  cipher.final();
  tag.set(cipher.getAuthTag());
}

/** Decrypts `data` over itself; false when the tag does not match (`data` is then garbage). */
function unseal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array): boolean {
  if (native?.aesGcm) return native.aesGcm(false, key, nonce, aad, data, tag);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    cipherInPlace(decipher, data);
    decipher.final();
    return true;
  } catch {
    return false;
  }
}

/**
 * Without the native module: a cipher's output is a new buffer each call, zero-filled first.
 * Small pieces keep that buffer in the core's cache and let the allocator hand the same memory
 * back call after call: encoding 839 MB of the `small` corpus in a worker took 1.7-1.9 s of CPU
 * with 8 KiB pieces, 3.5 s with 1 MiB ones, a third of that in the kernel (fresh pages for every
 * megabyte).
 */
const CIPHER_PIECE = 8 << 10;

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
  /** the data is the caller's to lose: it is decrypted over itself, not into a new buffer */
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
  const into = Buffer.allocUnsafe(oneFrameSize(payload, expect));
  decompressInto(payload, into, expect.what);
  return into;
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
  const declared = oneFrameSize(payload, { ...expect, maxLength: into.length });
  if (declared !== into.length) throw wrongLength(declared);
  decompressInto(payload, into, expect.what);
}

let decompressContext: zstdBinding.DCtx | undefined;

/** Decompresses one frame of exactly into.length bytes (oneFrameSize() said so) into `into`. */
function decompressInto(frame: Uint8Array, into: Uint8Array, what: string): void {
  let n: number;
  try {
    n = (decompressContext ??= new zstdBinding.DCtx()).decompress(into, frame);
  } catch (e) {
    throw corrupt(what, `cannot decompress: ${(e as Error).message}`);
  }
  if (n !== into.length) throw corrupt(what, `decompressed to ${n} bytes where the frame declares ${into.length}`);
}

/**
 * The size a compressed payload declares, once it is known to be a single zstd frame with that
 * size in its header, at most `maxLength`: several frames would each be allowed their own size.
 */
function oneFrameSize(payload: Buffer, expect: { maxLength: number; what: string }): number {
  const declared = zstdContentSize(payload);
  if (declared === undefined) throw corrupt(expect.what, 'compressed payload without a declared size');
  if (declared > expect.maxLength) throw corrupt(expect.what, `compressed payload of ${declared} bytes, more than the allowed ${expect.maxLength}`);
  let frameLength: number;
  try {
    frameLength = zstdBinding.findFrameCompressedSize(payload);
  } catch (e) {
    throw corrupt(expect.what, `cannot decompress: ${(e as Error).message}`);
  }
  if (frameLength !== payload.length) throw corrupt(expect.what, `${payload.length - frameLength} bytes after the compressed frame`);
  return declared;
}
/** Checks the envelope and decrypts: the payload, still compressed when the flag says so. */
function openObject(data: Uint8Array, expect: DecodeExpectation): { payload: Buffer; compressed: boolean } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < HEADER || MAGIC.some((b, i) => buf[i] !== b)) throw corrupt(expect.what, 'not a dbk object');
  if (buf[3] !== OBJECT_VERSION) throw corrupt(expect.what, `unsupported object version ${buf[3]}`);
  if (buf[4] !== expect.kind) throw corrupt(expect.what, `object of kind ${buf[4]} where kind ${expect.kind} was expected`);
  const flags = buf[5] ?? 0;
  if (flags & ~(FLAG_ZSTD | FLAG_AES_GCM | FLAG_CHECKSUM)) throw corrupt(expect.what, `unknown flags ${flags}`);
  let payload = buf.subarray(HEADER);
  if (flags & FLAG_CHECKSUM) {
    if (flags & FLAG_AES_GCM) throw corrupt(expect.what, 'both encrypted and checksummed');
    payload = checked(buf, expect.what);
  }
  if (flags & FLAG_AES_GCM) {
    if (!expect.key) throw corrupt(expect.what, 'encrypted, but the storage is not');
    payload = openSealed(buf, expect.key, expect.what, expect.inPlace ?? false);
  } else if (expect.key) {
    throw corrupt(expect.what, 'not encrypted, but the storage is');
  }
  const compressed = (flags & FLAG_ZSTD) !== 0;
  if (!compressed && payload.length > expect.maxLength) throw corrupt(expect.what, `${payload.length} bytes, more than the allowed ${expect.maxLength}`);
  return { payload, compressed };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** The payload of a checksummed plain object, once its checksum matches. */
function checked(buf: Buffer, what: string): Buffer {
  if (buf.length < HEADER + CHECKSUM) throw corrupt(what, 'truncated');
  const end = buf.length - CHECKSUM;
  if (!sha256(buf.subarray(0, end)).equals(buf.subarray(end))) throw corrupt(what, 'checksum mismatch (the file is damaged)');
  return buf.subarray(HEADER, end);
}

function openSealed(buf: Buffer, key: Uint8Array, what: string, inPlace: boolean): Buffer {
  if (buf.length < HEADER + NONCE + TAG) throw corrupt(what, 'truncated');
  const sealed = buf.subarray(HEADER + NONCE, buf.length - TAG);
  const body = inPlace ? sealed : Buffer.from(sealed);
  if (!unseal(key, buf.subarray(HEADER, HEADER + NONCE), buf.subarray(0, HEADER + NONCE), body, buf.subarray(buf.length - TAG))) {
    throw corrupt(what, 'authentication failed (damaged, or encrypted with another key)');
  }
  return body;
}

/** The content size a zstd frame header declares (encodeObjectInto() always writes it), or undefined. */
function zstdContentSize(frame: Uint8Array): number | undefined {
  try {
    return zstdBinding.getFrameContentSize(frame) ?? undefined;
  } catch {
    return undefined; // not a frame header
  }
}
