// Objects are sealed with the native module's AES-GCM where it is built and with Node's cipher
// where it is not (a failed build, or one from before aesGcm): the bytes must be the same
// standard AES-256-GCM either way, so that a storage written by one reads with the other.

import { randomBytes } from 'node:crypto';
import { expect, it, vi } from 'vitest';
import { decodeObject, encodeObject, ObjectKind } from '../../src/format/object.js';
import { native as seenByObject } from '../../src/native-module.js';
import { expectCorrupt } from '../support/engine.js';

vi.mock('../../src/native-module.js', () => ({ native: undefined }));
const { native } = await vi.importActual<typeof import('../../src/native-module.js')>('../../src/native-module.js');

const key = randomBytes(32);
const HEAD = 6 + 12;
const TAG = 16;
const expected = (maxLength: number) => ({ kind: ObjectKind.CHUNK, maxLength, what: 'test object', key });

/** The envelope's parts, as the native call takes them. */
const parts = (obj: Buffer) => ({
  nonce: obj.subarray(6, HEAD),
  aad: obj.subarray(0, HEAD),
  body: obj.subarray(HEAD, obj.length - TAG),
  tag: obj.subarray(obj.length - TAG),
});

const payloads = [Buffer.alloc(0), Buffer.from('x'), randomBytes((8 << 10) + 5), randomBytes((1 << 20) + 3), Buffer.from('compressible '.repeat(10_000))];

it('seals and opens with Node’s cipher, in place or not', () => {
  expect(seenByObject).toBeUndefined();
  for (const plain of payloads) {
    for (const level of [0, 3]) {
      const sealed = encodeObject(plain, { kind: ObjectKind.CHUNK, compressionLevel: level, key });
      expect(decodeObject(sealed, expected(plain.length)).equals(plain)).toBe(true);
      expect(decodeObject(Buffer.from(sealed), { ...expected(plain.length), inPlace: true }).equals(plain)).toBe(true);
    }
  }
});

it('rejects a flipped bit with Node’s cipher too', () => {
  const sealed = encodeObject(payloads[2]!, { kind: ObjectKind.CHUNK, compressionLevel: 0, key });
  for (const i of [0, 6, HEAD, sealed.length - TAG - 1, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 0x10;
    expectCorrupt(() => decodeObject(bad, expected(sealed.length)));
  }
});

it('the native module opens what Node’s cipher sealed, and Node’s cipher what the native module sealed', () => {
  if (native === undefined) return; // not built: nothing to compare with
  expect(native.aesGcm).toBeTypeOf('function');
  const aesGcm = native.aesGcm!;
  for (const plain of payloads) {
    const byNode = encodeObject(plain, { kind: ObjectKind.CHUNK, compressionLevel: 0, key });
    const { nonce, aad, body, tag } = parts(Buffer.from(byNode));
    expect(aesGcm(false, key, nonce, aad, body, tag)).toBe(true);
    expect(body.equals(plain)).toBe(true);

    const byNative = Buffer.from(byNode);
    const sealing = parts(byNative);
    sealing.body.set(plain);
    sealing.tag.fill(0);
    expect(aesGcm(true, key, sealing.nonce, sealing.aad, sealing.body, sealing.tag)).toBe(true);
    expect(byNative.equals(byNode)).toBe(true); // same key and nonce: the very same bytes
    expect(decodeObject(byNative, expected(plain.length)).equals(plain)).toBe(true);

    const tampered = parts(Buffer.from(byNode));
    tampered.tag[0]! ^= 1;
    expect(aesGcm(false, key, tampered.nonce, tampered.aad, tampered.body, tampered.tag)).toBe(false);
  }
});

it('the native call refuses a key, nonce or tag of the wrong size', () => {
  if (native?.aesGcm === undefined) return;
  const aesGcm = native.aesGcm;
  const data = Buffer.alloc(10);
  expect(() => aesGcm(true, key.subarray(0, 16), Buffer.alloc(12), Buffer.alloc(0), data, Buffer.alloc(16))).toThrow(RangeError);
  expect(() => aesGcm(true, key, Buffer.alloc(8), Buffer.alloc(0), data, Buffer.alloc(16))).toThrow(RangeError);
  expect(() => aesGcm(false, key, Buffer.alloc(12), Buffer.alloc(0), data, Buffer.alloc(4))).toThrow(RangeError);
});
