// The binary file list: every kind of entry round-trips exactly, and malformed lists are CORRUPT.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BinaryWriter } from '../../src/format/binary.js';
import { decodeFileList, encodeFileList, entryProblem, type FileEntry } from '../../src/format/file-list.js';
import { nameFromBytes } from '../../src/format/names.js';
import { expectCorrupt } from '../support/engine.js';

const entries: FileEntry[] = [
  { path: 'docs', type: 'dir', mode: 0o755, mtimeS: 1_700_000_000, mtimeNs: 123_456_789, size: 0, uid: 1000, gid: 1000 },
  {
    path: 'docs/a.txt',
    type: 'file',
    mode: 0o644,
    mtimeS: 1_700_000_000,
    mtimeNs: 0,
    size: 5,
    uid: 1000,
    gid: 1000,
    range: { startChunk: 0, startOffset: 0, endChunk: 0, endOffset: 5 },
    hash: randomBytes(32),
  },
  { path: 'docs/empty', type: 'file', mode: 0o600, mtimeS: 0, mtimeNs: 0, size: 0, uid: 0, gid: 0 },
  { path: 'docs/link', type: 'symlink', mode: 0o777, mtimeS: -1, mtimeNs: 999_999_999, size: 0, uid: 1, gid: 2, target: '../über/ziel ✓' },
  {
    path: 'big',
    type: 'file',
    mode: 0o4755,
    mtimeS: 2 ** 41,
    mtimeNs: 500_000_000,
    size: 2 ** 40 + 3,
    uid: 2 ** 31,
    gid: 65534,
    range: { startChunk: 0, startOffset: 5, endChunk: 299_999, endOffset: 1 << 24 },
    hash: randomBytes(32),
  },
  { path: `${'日'.repeat(85)}/${'x'.repeat(255)}`, type: 'dir', mode: 0o700, mtimeS: 3, mtimeNs: 0, size: 0, uid: 0, gid: 0 },
];
const CHUNKS = 300_000;

/** A version 1 list (still read) holding one raw entry written by `write`. */
const rawList = (write: (w: BinaryWriter) => void) => {
  const w = new BinaryWriter().byte(1);
  write(w);
  return w.toBuffer();
};
const fileHead = (w: BinaryWriter, size = 10) => w.byte(1).string('f').varint(0o644).float64(0).varint(size).varint(0).varint(0);

describe('file list', () => {
  it('round-trips files, empty files, folders and symlinks exactly', () => {
    expect(decodeFileList(encodeFileList(entries), CHUNKS)).toEqual(entries);
  });

  it('round-trips names that are not UTF-8, special files, hard links, owner names and extended attributes', () => {
    const odd: FileEntry[] = [
      { path: nameFromBytes(Buffer.from('bad\xff\xfename', 'latin1')), type: 'file', mode: 0o644, mtimeS: 5, mtimeNs: 1, size: 0, uid: 0, gid: 0, user: 'root', group: 'wheel' },
      { path: 'new\nline', type: 'symlink', mode: 0o777, mtimeS: 5, mtimeNs: 2, size: 0, uid: 0, gid: 0, target: nameFromBytes(Buffer.from([0x80, 0x2f, 0xc3])) },
      { path: 'fifo', type: 'fifo', mode: 0o600, mtimeS: 5, mtimeNs: 3, size: 0, uid: 0, gid: 0 },
      { path: 'null', type: 'chardev', mode: 0o666, mtimeS: 5, mtimeNs: 4, size: 0, uid: 0, gid: 0, rdev: 0x103 },
      { path: 'sda', type: 'blockdev', mode: 0o660, mtimeS: 5, mtimeNs: 5, size: 0, uid: 0, gid: 6, rdev: 0x800 },
      { path: 'linked', type: 'file', mode: 0o644, mtimeS: 5, mtimeNs: 1, size: 0, uid: 0, gid: 0, linkOf: 0 },
      {
        path: 'tagged',
        type: 'dir',
        mode: 0o755,
        mtimeS: 5,
        mtimeNs: 6,
        size: 0,
        uid: 0,
        gid: 0,
        xattrs: [
          { name: 'user.a', value: Buffer.from([0, 1, 2]) },
          { name: 'user.empty', value: Buffer.alloc(0) },
        ],
      },
    ];
    const enc = encodeFileList(odd);
    expect(decodeFileList(enc, 0)).toEqual(odd);
    expect(enc.includes(Buffer.from('bad\xff\xfename', 'latin1'))).toBe(true); // the bytes themselves, not a lossy text
  });

  it('a hard link to a later entry, or from what is not a file: CORRUPT', () => {
    const base = { mode: 0o644, mtimeS: 0, mtimeNs: 0, size: 0, uid: 0, gid: 0 } as const;
    expectCorrupt(() => decodeFileList(encodeFileList([{ ...base, path: 'a', type: 'file', linkOf: 0 }]), 0), 'link to itself');
    expectCorrupt(
      () =>
        decodeFileList(
          encodeFileList([
            { ...base, path: 'a', type: 'file' },
            { ...base, path: 'd', type: 'dir', linkOf: 0 },
          ]),
          0,
        ),
      'folder',
    );
  });

  it('passes over an extra it does not know (written by a later version)', () => {
    const w = new BinaryWriter().byte(2).byte(1).counted(Buffer.from('f')).varint(0o644).signed(0).varint(0).varint(0).varint(0).varint(0);
    w.varint(2).varint(99).counted(Buffer.from('future')).varint(2).counted(Buffer.from('alice'));
    expect(decodeFileList(w.toBuffer(), 0)).toEqual([{ path: 'f', type: 'file', mode: 0o644, mtimeS: 0, mtimeNs: 0, size: 0, uid: 0, gid: 0, user: 'alice' }]);
  });

  it('reads version 1: UTF-8 paths and times in float milliseconds', () => {
    const v1 = rawList((w) => w.byte(2).string('docs/ü').varint(0o755).float64(1_700_000_000_123.5).varint(0).varint(1).varint(2));
    expect(decodeFileList(v1, 0)).toEqual([{ path: 'docs/ü', type: 'dir', mode: 0o755, mtimeS: 1_700_000_000, mtimeNs: 123_500_000, size: 0, uid: 1, gid: 2 }]);
  });

  it('round-trips an empty list', () => {
    expect(decodeFileList(encodeFileList([]), 0)).toEqual([]);
  });

  it('truncated anywhere but between entries: CORRUPT', () => {
    const enc = encodeFileList(entries);
    const boundaries = new Set(entries.map((_, i) => encodeFileList(entries.slice(0, i)).length));
    for (let n = 0; n < enc.length; n++) {
      if (boundaries.has(n) && n > 0) {
        // a cut between entries is a shorter, valid list: metadata chunks are verified by hash before this
        expect(decodeFileList(enc.subarray(0, n), CHUNKS).length).toBeLessThan(entries.length);
      } else {
        expectCorrupt(() => decodeFileList(enc.subarray(0, n), CHUNKS), `at length ${n}`);
      }
    }
  });

  it('an unknown version or entry type: CORRUPT', () => {
    const enc = encodeFileList(entries);
    for (const v of [0, 3, 255]) {
      const bad = Buffer.from(enc);
      bad[0] = v;
      expectCorrupt(() => decodeFileList(bad, CHUNKS), `version ${v}`);
    }
    for (const t of [0, 7, 0x80]) {
      const bad = Buffer.from(enc);
      bad[1] = t;
      expectCorrupt(() => decodeFileList(bad, CHUNKS), `type ${t}`);
    }
  });

  it('a chunk range outside the sequence, or backwards: CORRUPT', () => {
    expectCorrupt(() => decodeFileList(encodeFileList(entries), CHUNKS - 1), 'end beyond count');
    expectCorrupt(
      () =>
        decodeFileList(
          rawList((w) => fileHead(w).varint(3).varint(0).varint(2).varint(1).bytes(randomBytes(32))),
          10,
        ),
      'backwards',
    );
  });

  it('an overlong number or string: CORRUPT', () => {
    expectCorrupt(
      () =>
        decodeFileList(
          rawList((w) => w.byte(1).bytes(Buffer.alloc(9, 0xff)).byte(0)),
          1,
        ),
      '9-byte varint',
    );
    expectCorrupt(
      () =>
        decodeFileList(
          rawList((w) =>
            w
              .byte(2)
              .varint(1 << 20)
              .bytes(Buffer.alloc(100)),
          ),
          1,
        ),
      'path longer than allowed',
    );
    expectCorrupt(
      () =>
        decodeFileList(
          rawList((w) => w.byte(2).varint(50).bytes(Buffer.alloc(10))),
          1,
        ),
      'path longer than the data',
    );
  });

  it('a file with content but no hash: CORRUPT', () => {
    expectCorrupt(() =>
      decodeFileList(
        rawList((w) => fileHead(w).varint(0).varint(0).varint(0).varint(10).bytes(randomBytes(31))),
        1,
      ),
    );
  });
});

describe('file entry checked against its chunks', () => {
  const file = (range: FileEntry['range'], size: number, mode = 0o644): FileEntry => ({ path: 'f', type: 'file', mode, mtimeS: 0, mtimeNs: 0, size, uid: 0, gid: 0, range, hash: randomBytes(32) });
  const lengths = [100, 200, 300];

  it('accepts ranges that hold exactly the file', () => {
    expect(entryProblem(file({ startChunk: 0, startOffset: 0, endChunk: 0, endOffset: 100 }, 100), lengths)).toBeUndefined();
    expect(entryProblem(file({ startChunk: 0, startOffset: 40, endChunk: 2, endOffset: 1 }, 60 + 200 + 1), lengths)).toBeUndefined();
    expect(entryProblem(file({ startChunk: 1, startOffset: 199, endChunk: 2, endOffset: 300 }, 301), lengths)).toBeUndefined();
    expect(entryProblem({ ...file(undefined, 0), hash: undefined }, lengths)).toBeUndefined();
  });

  it('names what is wrong: a size the range contradicts, offsets past a chunk, chunks not in the revision, a mode that is no mode', () => {
    expect(entryProblem(file({ startChunk: 0, startOffset: 0, endChunk: 0, endOffset: 100 }, 99), lengths)).toMatch(/hold 100 bytes where its size is 99/);
    expect(entryProblem(file({ startChunk: 0, startOffset: 0, endChunk: 2, endOffset: 300 }, 10), lengths)).toMatch(/where its size is 10/);
    expect(entryProblem(file({ startChunk: 0, startOffset: 50, endChunk: 0, endOffset: 10 }, 1), lengths)).toMatch(/outside its chunks/);
    expect(entryProblem(file({ startChunk: 0, startOffset: 0, endChunk: 1, endOffset: 250 }, 350), lengths)).toMatch(/outside its chunks/);
    expect(entryProblem(file({ startChunk: 0, startOffset: 100, endChunk: 1, endOffset: 1 }, 1), lengths)).toMatch(/outside its chunks/);
    expect(entryProblem(file({ startChunk: 2, startOffset: 0, endChunk: 3, endOffset: 1 }, 301), lengths)).toMatch(/not in the revision/);
    expect(entryProblem(file({ startChunk: 0, startOffset: 0, endChunk: 0, endOffset: 100 }, 100, 2 ** 32), lengths)).toMatch(/not a file mode/);
    expect(entryProblem({ ...file(undefined, 5) }, lengths)).toMatch(/no chunks/);
  });
});
