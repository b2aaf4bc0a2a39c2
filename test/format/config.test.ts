// The storage config: plain and sealed configs round-trip, the password is checked, and a
// malformed config is CORRUPT (or, for a sealed one whose damage the cipher cannot tell from a
// wrong password, WRONG_PASSWORD).

import { describe, expect, it } from 'vitest';
import { newKdfParams, newStorageKeys } from '../../src/crypto/keys.js';
import { DbkError } from '../../src/errors.js';
import { configIsEncrypted, decodeConfig, encodeConfig, type StorageConfig } from '../../src/format/config.js';

const config = (encrypted: boolean): StorageConfig => ({
  chunkSizes: { average: 1 << 16, minimum: 1 << 14, maximum: 1 << 18 },
  metadataChunkSizes: { average: 1 << 16, minimum: 1 << 14, maximum: 1 << 18 },
  compressionLevel: 3,
  keys: newStorageKeys(encrypted),
  encrypted,
});
const seal = { password: 'p4ssw0rd', kdf: newKdfParams(10) };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DbkError);
    return (e as DbkError).code;
  }
  return 'decoded';
}

/** A plain config of the first format (no checksum): header followed by `body` (a string as it is, anything else as JSON). */
const plainConfig = (body: unknown) => Buffer.concat([Buffer.from('DBKC'), Buffer.from([1, 0]), Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))]);

describe('config round trip', () => {
  it('plain: every field survives, no password needed', async () => {
    const c = config(false);
    const enc = await encodeConfig(c);
    expect(configIsEncrypted(enc)).toBe(false);
    expect(await decodeConfig(enc)).toEqual(c);
  });

  it('sealed: every field survives with the right password; no key appears in the clear', async () => {
    const c = config(true);
    const enc = await encodeConfig(c, seal);
    expect(configIsEncrypted(enc)).toBe(true);
    for (const k of Object.values(c.keys)) expect(enc.includes(Buffer.from(k))).toBe(false);
    expect(enc.includes(Buffer.from(Buffer.from(c.keys.hashKey).toString('hex')))).toBe(false);
    expect(await decodeConfig(enc, seal.password)).toEqual(c);
  });

  it('sealed: a wrong or missing password is WRONG_PASSWORD', async () => {
    const enc = await encodeConfig(config(true), seal);
    expect(await codeOf(decodeConfig(enc, 'wrong'))).toBe('WRONG_PASSWORD');
    expect(await codeOf(decodeConfig(enc, ''))).toBe('WRONG_PASSWORD');
    expect(await codeOf(decodeConfig(enc))).toBe('WRONG_PASSWORD');
  });
});

describe('config decoder rejects malformed input', () => {
  it('plain, truncated at any length: CORRUPT', async () => {
    const enc = await encodeConfig(config(false));
    for (let n = 0; n < enc.length; n++) expect(await codeOf(decodeConfig(enc.subarray(0, n))), `length ${n}`).toBe('CORRUPT');
  });

  it('sealed, truncated: CORRUPT while shorter than its fixed parts, else WRONG_PASSWORD (the cipher cannot tell)', async () => {
    const enc = await encodeConfig(config(true), seal);
    const fixed = 4 + 5 + 16 + 12 + 16;
    // every length through the fixed parts, then a sample (each try runs the key derivation)
    for (let n = 0; n < enc.length; n += n < fixed + 4 ? 1 : 5) {
      expect(await codeOf(decodeConfig(enc.subarray(0, n), seal.password)), `length ${n}`).toBe(n < fixed ? 'CORRUPT' : 'WRONG_PASSWORD');
    }
  });

  it('sealed, any flipped byte: never decodes', async () => {
    const enc = await encodeConfig(config(true), seal);
    for (let i = 0; i < enc.length; i += i < 48 ? 1 : 5) {
      const bad = Buffer.from(enc);
      bad[i]! ^= 0x10;
      expect(['CORRUPT', 'WRONG_PASSWORD', 'CONFIG'], `byte ${i}`).toContain(await codeOf(decodeConfig(bad, seal.password)));
    }
  });

  it('wrong magic, a newer version, unknown flags: CORRUPT', async () => {
    const enc = await encodeConfig(config(false));
    for (const [at, value] of [
      [0, 0x58],
      [3, 0x58],
      [4, 2],
      [4, 0],
      [5, 3],
      [5, 0xff],
    ] as const) {
      const bad = Buffer.from(enc);
      bad[at] = value;
      expect(await codeOf(decodeConfig(bad, 'x')), `byte ${at} = ${value}`).toBe('CORRUPT');
    }
  });

  it('sealed with key-derivation parameters out of range: CORRUPT', async () => {
    const enc = await encodeConfig(config(true), seal);
    for (const [at, value] of [
      [6, 0],
      [6, 9],
      [7, 0],
      [8, 0],
    ] as const) {
      const bad = Buffer.from(enc);
      bad[at] = value;
      expect(await codeOf(decodeConfig(bad, seal.password)), `byte ${at} = ${value}`).toBe('CORRUPT');
    }
  });

  it('sealed with a key derivation costlier than dbk allows: refused at once, before it runs, saying so', async () => {
    const enc = await encodeConfig(config(true), seal);
    for (const [logN, r, p] of [
      [22, 8, 255],
      [24, 255, 1],
      [40, 1, 1],
      [16, 8, 16],
      [19, 8, 1],
    ] as const) {
      const bad = Buffer.from(enc);
      bad.set([logN, r, p], 6);
      const started = Date.now();
      const err = await decodeConfig(bad, seal.password).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(500);
      expect(err, `logN ${logN} r ${r} p ${p}`).toBeInstanceOf(DbkError);
      expect((err as DbkError).code).toBe('CONFIG');
      expect((err as DbkError).message).toMatch(/beyond what dbk allows/);
    }
    // and nobody can make one
    await expect(encodeConfig(config(true), { password: 'x', kdf: { ...newKdfParams(20), r: 8 } })).rejects.toThrow(/beyond what dbk allows/);
  });

  it('plain: any flipped byte is caught by the checksum; a config of the first format (no checksum) still opens', async () => {
    const enc = await encodeConfig(config(false));
    expect(enc[5]).toBe(2);
    for (let i = 6; i < enc.length; i++) {
      const bad = Buffer.from(enc);
      bad[i]! ^= 0x10;
      expect(await codeOf(decodeConfig(bad)), `byte ${i}`).toBe('CORRUPT');
    }
    const json = enc.subarray(6, enc.length - 32).toString();
    expect(await decodeConfig(plainConfig(json))).toEqual(await decodeConfig(enc));
  });

  it('plain with bad JSON content: CORRUPT', async () => {
    const enc = await encodeConfig(config(false));
    const good = JSON.parse(enc.subarray(6, enc.length - 32).toString()) as Record<string, unknown>;
    const variants: [string, unknown][] = [
      ['not JSON', '{"chunk'],
      ['null', null],
      ['a number', 7],
      ['no chunk sizes', { ...good, chunkSizes: undefined }],
      ['minimum above average', { ...good, chunkSizes: { average: 1 << 16, minimum: 1 << 17, maximum: 1 << 18 } }],
      ['maximum below average', { ...good, metadataChunkSizes: { average: 1 << 16, minimum: 1 << 14, maximum: 1 << 15 } }],
      ['tiny chunks', { ...good, chunkSizes: { average: 32, minimum: 16, maximum: 64 } }],
      ['a 1 GiB largest chunk (a 3 GiB restore ring)', { ...good, chunkSizes: { average: 1 << 20, minimum: 1 << 18, maximum: 1 << 30 } }],
      ['8 MiB metadata chunks', { ...good, metadataChunkSizes: { average: 1 << 20, minimum: 1 << 18, maximum: 8 << 20 } }],
      ['fractional size', { ...good, chunkSizes: { average: 65536.5, minimum: 1 << 14, maximum: 1 << 18 } }],
      ['compression level 99', { ...good, compressionLevel: 99 }],
      ['short hash key', { ...good, hashKey: 'abcd' }],
      ['non-hex id key', { ...good, idKey: 'z'.repeat(64) }],
      ['missing chunk seed', { ...good, chunkSeed: undefined }],
      ['an encryption key in a plain config', { ...good, encryptionKey: 'a'.repeat(64) }],
    ];
    for (const [name, json] of variants) {
      expect(await codeOf(decodeConfig(plainConfig(json))), name).toBe('CORRUPT');
    }
  });
});
