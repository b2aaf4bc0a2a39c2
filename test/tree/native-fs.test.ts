// The calls a backup's walk and reader make a file at a time: lstatEntry() must say what Node's
// lstat says, to the nanosecond and for every type, and readStart() must read what is there,
// close the file exactly when that read ended it, and fail as Node's open does.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFile, lstatEntry, nativeMissing, readStart, setLinkTimes } from '../../src/tree/native-fs.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbk-native-fs-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const at = (name: string) => path.join(dir, name);

function expectSameAsNode(p: string): void {
  const node = fs.lstatSync(p, { bigint: true });
  const st = lstatEntry(p);
  expect(st.mode).toBe(Number(node.mode));
  expect([st.uid, st.gid, st.size, st.rdev]).toEqual([Number(node.uid), Number(node.gid), Number(node.size), Number(node.rdev)]);
  expect(BigInt(st.mtimeS) * 1_000_000_000n + BigInt(st.mtimeNs)).toBe(node.mtimeNs);
  expect(st.mtimeNs).toBeGreaterThanOrEqual(0);
  expect(st.mtimeNs).toBeLessThan(1e9);
  expect(st.linkKey).toBe(node.nlink > 1n ? `${node.dev}:${node.ino}` : undefined);
}

describe('lstatEntry', () => {
  it('says what Node says of a file, a folder, a symlink and a fifo', () => {
    fs.writeFileSync(at('file'), 'twelve bytes');
    fs.mkdirSync(at('folder'));
    fs.symlinkSync('file', at('link'));
    execFileSync('mkfifo', [at('fifo')]);
    for (const name of ['file', 'folder', 'link', 'fifo']) expectSameAsNode(at(name));
    expect(lstatEntry(at('link')).mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFLNK);
  });

  // Node's own utimes would set a double of seconds, not these nanoseconds
  it.skipIf(nativeMissing !== undefined)('keeps nanoseconds, before 1970 too', () => {
    fs.writeFileSync(at('old'), '');
    setLinkTimes(at('old'), -1, 999_999_999); // 1969-12-31T23:59:59.999999999
    expect(lstatEntry(at('old'))).toMatchObject({ mtimeS: -1, mtimeNs: 999_999_999 });
    expectSameAsNode(at('old'));
  });

  it('gives every name of a file the same link key', () => {
    fs.writeFileSync(at('a'), 'linked');
    fs.linkSync(at('a'), at('b'));
    expect(lstatEntry(at('a')).linkKey).toBeDefined();
    expect(lstatEntry(at('a')).linkKey).toBe(lstatEntry(at('b')).linkKey);
    expectSameAsNode(at('b'));
  });

  it('fails as Node does for a missing entry', () => {
    expect(() => lstatEntry(at('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('readStart', () => {
  const ring = new Uint8Array(new SharedArrayBuffer(64));

  it('reads a small file whole into shared memory at an offset and closes it', () => {
    fs.writeFileSync(at('small'), 'hello, ring');
    const r = readStart(at('small'), ring, 5, 40, 11);
    expect(r).toEqual({ read: 11 });
    expect(Buffer.from(ring.subarray(5, 16)).toString()).toBe('hello, ring');
  });

  it('leaves a file open when the read did not reach its end', () => {
    fs.writeFileSync(at('large'), 'x'.repeat(100));
    const r = readStart(at('large'), ring, 0, 64, 100);
    expect(r.read).toBe(64);
    expect(r.fd).toBeGreaterThanOrEqual(0);
    expect(fs.readSync(r.fd!, ring, 0, 64, null)).toBe(36);
    closeFile(r.fd!);
  });

  it('leaves a file open that is shorter than the walk saw, for the reader to find its end', () => {
    fs.writeFileSync(at('shrunk'), 'abc');
    const r = readStart(at('shrunk'), ring, 0, 64, 10);
    expect(r.read).toBe(3);
    expect(fs.readSync(r.fd!, ring, 0, 64, null)).toBe(0);
    closeFile(r.fd!);
  });

  it('closes an empty file at once', () => {
    fs.writeFileSync(at('empty'), '');
    expect(readStart(at('empty'), ring, 0, 64, 0)).toEqual({ read: 0 });
  });

  it('fails as Node does for a missing file, and refuses a read past the buffer', () => {
    expect(() => readStart(at('missing'), ring, 0, 64, 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    fs.writeFileSync(at('any'), 'data');
    expect(() => readStart(at('any'), ring, 60, 8, 4)).toThrow();
  });
});
