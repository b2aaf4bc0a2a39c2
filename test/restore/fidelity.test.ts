// Everything the file system holds comes back: a golden tree of what trips backup tools up (names
// that are not UTF-8 or hold a newline, nanosecond times, sparse files, hard links, a 300-deep
// chain, a folder of 50,000 entries, 255-byte names, NFC beside NFD) is backed up, restored into
// a fresh folder and compared name by name as bytes.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { restore } from '../../src/commands/restore.js';
import { nameFromBytes } from '../../src/format/names.js';
import { DBK_DIR } from '../../src/storage/preferences.js';
import { makeNode, readXattrs, writeXattr } from '../../src/tree/native-fs.js';
import { joinRepo, makeRepo } from '../support/engine.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const join = (...parts: Buffer[]) => Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p])));
const MiB = 1 << 20;
const isRoot = process.getuid?.() === 0;

/** Builds the golden tree under `root` (a string: every name below it is made as bytes). */
function buildGoldenTree(root: string): void {
  const at = (...parts: (string | Buffer)[]) => join(Buffer.from(root), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const file = (content: string | Buffer, ...parts: (string | Buffer)[]) => fs.writeFileSync(at(...parts), content);

  file('not UTF-8\n', bytes('bad\xff\xfename'));
  fs.mkdirSync(at(bytes('folder \xe9')));
  file('inside a folder whose name is latin-1\n', bytes('folder \xe9'), 'file');
  fs.symlinkSync(bytes('target \xff'), at('link to bytes'));
  file('two lines\n', 'new\nline');
  file('back\\slash\n', 'back\\slash');
  file('NFC\n', 'caf\u00e9');
  file('NFD\n', 'cafe\u0301');
  file('', 'empty');
  file('a 255-byte name\n', 'n'.repeat(255));
  file('a 255-byte name that is not UTF-8\n', Buffer.alloc(255, 0xfe));
  file('nanoseconds\n', 'ns');
  execFileSync('touch', ['-m', '-d', '@1600000000.123456789', at('ns').toString()]); // node sets times only to about a microsecond

  // sparse: 64 MiB with 4 KiB of data in the middle and a hole at the end
  const sparse = fs.openSync(at('sparse'), 'w');
  fs.writeSync(sparse, Buffer.alloc(4096, 7), 0, 4096, 32 * MiB);
  fs.ftruncateSync(sparse, 64 * MiB);
  fs.closeSync(sparse);

  // hard links: three names of one file across folders, and a pair
  fs.mkdirSync(at('links'));
  file('linked three times\n', 'links', 'a');
  fs.linkSync(at('links', 'a'), at('links', 'b'));
  fs.mkdirSync(at('links', 'sub'));
  fs.linkSync(at('links', 'a'), at('links', 'sub', 'c'));
  file('a pair\n', 'links', 'p1');
  fs.linkSync(at('links', 'p1'), at('links', 'p2'));

  // a chain 300 folders deep with a file at the bottom
  const chain = Array.from({ length: 300 }, () => 'd');
  fs.mkdirSync(at(...chain), { recursive: true });
  file('at the bottom\n', ...chain, 'bottom');

  // extended attributes (a POSIX ACL is one too), special files, owners
  writeXattr(at('links', 'a').toString(), 'user.comment', Buffer.from('kept with the file'));
  writeXattr(at('links').toString(), 'user.empty', Buffer.alloc(0));
  writeXattr(nameFromBytes(at(bytes('folder \xe9'), 'file')), 'user.binary', Buffer.from([0, 255, 1]));
  writeXattr(at('empty').toString(), 'user.on-an-empty-file', Buffer.from('not read, yet kept'));
  makeNode(at('fifo').toString(), fs.constants.S_IFIFO | 0o640, 0);
  file('with an access control list\n', 'acl');
  writeXattr(`${root}/acl`, 'system.posix_acl_access', posixAcl([ACL_USER_OBJ, 6], [ACL_USER, 6, 1234], [ACL_GROUP_OBJ, 4], [ACL_MASK, 6], [ACL_OTHER, 0]));
  writeXattr(`${root}/links`, 'system.posix_acl_default', posixAcl([ACL_USER_OBJ, 7], [ACL_GROUP_OBJ, 5], [ACL_GROUP, 5, 4321], [ACL_MASK, 5], [ACL_OTHER, 0]));
  if (isRoot) {
    makeNode(at('null-device').toString(), fs.constants.S_IFCHR | 0o666, (1 << 8) | 3);
    fs.lchownSync(at('empty'), 65534, 65534);
    fs.lchownSync(at('link to bytes'), 1234, 5678);
    fs.chownSync(at('links'), 4321, 8765);
  }

  // a folder of 50,000 entries
  fs.mkdirSync(at('wide'));
  for (let i = 0; i < 50_000; i++) fs.writeFileSync(at('wide', `f${i}`), i % 1000 === 0 ? `entry ${i}\n` : '');
}

// A POSIX ACL as the kernel keeps it in its extended attribute (setfacl is not always installed):
// version 2, then (tag, permissions, id) entries, sorted by tag.
const [ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20];
function posixAcl(...entries: [tag: number, permissions: number, id?: number][]): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, permissions, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(permissions, 6 + 8 * i);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + 8 * i);
  });
  return b;
}

interface Described {
  type: string;
  mode: number;
  mtimeNs: string;
  size: number;
  sha256?: string;
  target?: string;
  nlink: number;
  /** the first name (in walk order) of the same inode, for files with more than one link */
  sameAs?: string;
  /** allocated bytes of files over 1 MiB (sparse files come back sparse) */
  allocated?: number;
  owner: string;
  xattrs: string[];
}

/** Every entry below `root` by its name's bytes (hex), with what a restore must reproduce. */
function describeExactly(root: string): Map<string, Described> {
  const out = new Map<string, Described>();
  const inodes = new Map<bigint, string>();
  const walk = (dir: Buffer, rel: Buffer | undefined) => {
    const names = fs.readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      const r = rel ? join(rel, name) : name;
      if (!rel && name.toString() === DBK_DIR) continue;
      const abs = join(dir, name);
      const st = fs.lstatSync(abs, { bigint: true });
      const key = r.toString('hex');
      const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : `special ${st.mode >> 12n} ${st.rdev}`;
      const d: Described = {
        type,
        mode: Number(st.mode & 0o7777n),
        mtimeNs: String(st.mtimeNs),
        size: type === 'file' ? Number(st.size) : 0,
        nlink: type === 'dir' ? 0 : Number(st.nlink),
        owner: `${st.uid}:${st.gid}`,
        xattrs: readXattrs(nameFromBytes(abs)).map((x) => `${x.name}=${x.value.toString('hex')}`),
      };
      if (type === 'symlink') {
        d.target = fs.readlinkSync(abs, { encoding: 'buffer' }).toString('hex');
        d.mode = 0;
        d.mtimeNs = ''; // not every file system keeps a link's own time
      }
      if (type === 'file') {
        d.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
        if (st.size > MiB) d.allocated = Number(st.blocks) * 512;
        if (st.nlink > 1n) {
          const first = inodes.get(st.ino);
          if (first) d.sameAs = first;
          else inodes.set(st.ino, key);
        }
      }
      out.set(key, d);
      if (type === 'dir') walk(abs, r);
    }
  };
  walk(Buffer.from(root), undefined);
  return out;
}

describe('what the file system holds comes back', () => {
  it('a golden tree is restored exactly, and backing it up again reads nothing', { timeout: 120_000 }, async () => {
    const source = await makeRepo();
    buildGoldenTree(source.repoDir);
    const expected = describeExactly(source.repoDir);
    const described = (name: string) => expected.get(Buffer.from(name).toString('hex'))!;
    // the tree holds what it should (a file system without ACLs or xattrs would fail here, not pass)
    expect(described('sparse').allocated).toBeLessThanOrEqual(64 * 1024);
    expect(described('acl').xattrs.map((x) => x.split('=')[0])).toEqual(['system.posix_acl_access']);
    expect(
      described('links')
        .xattrs.map((x) => x.split('=')[0])
        .sort(),
    ).toEqual(['system.posix_acl_default', 'user.empty']);
    expect(described('links/sub/c').sameAs).toBe(Buffer.from('links/a').toString('hex'));
    expect(described('ns').mtimeNs).toBe('1600000000123456789');

    const first = await backup(source.open);
    expect(first.problems).toEqual([]);
    expect(first.skipped).toEqual([]);
    // each hard-linked file is read once, under its first name
    expect(first.readFiles).toBe([...expected.values()].filter((d) => d.type === 'file' && d.size > 0 && !d.sameAs).length);

    const restoresExactly = async (revision: number) => {
      const target = await joinRepo(source);
      const r = await restore({ ...target.open, revision });
      expect(r.failed).toEqual([]);
      expect(r.broken).toEqual([]);
      const restored = describeExactly(target.repoDir);
      expect([...restored.keys()]).toEqual([...expected.keys()]);
      for (const [key, want] of expected) {
        const got = restored.get(key)!;
        const name = Buffer.from(key, 'hex').toString('latin1');
        if (want.allocated !== undefined) {
          // holes come back as holes: no more allocated than the source, give or take a block
          expect(got.allocated, name).toBeLessThanOrEqual(want.allocated + 8192);
          got.allocated = want.allocated;
        }
        expect(got, name).toEqual(want);
      }
    };
    // the first backup walks on the main thread and leaves files' attributes to the reader, or
    // (an empty file, a later name of a hard link) reads them itself
    await restoresExactly(1);

    // the storage's cache is there now: the walk is on a thread of its own, and reads them all
    const again = await backup(source.open);
    expect(again.readFiles).toBe(0);
    expect(again.problems).toEqual([]);

    // without the cache, the walk is on the main thread again: the files it does not read, unchanged, get theirs there
    fs.rmSync(path.join(source.repoDir, DBK_DIR, 'cache'), { recursive: true });
    const third = await backup(source.open);
    expect(third.readFiles).toBe(0);
    expect(third.problems).toEqual([]);
    await restoresExactly(3);
  });

  it('a file that grows or shrinks between the scan and its read is recorded as it was read', async () => {
    const source = await makeRepo();
    const growing = path.join(source.repoDir, 'growing');
    const shrinking = path.join(source.repoDir, 'shrinking');
    fs.writeFileSync(growing, 'short\n');
    fs.writeFileSync(shrinking, 'x'.repeat(100_000));
    let changed = false;
    // called with the totals once the scan is done, before any file is read
    const onProgress = () => {
      if (changed) return;
      changed = true;
      fs.appendFileSync(growing, 'and then longer\n');
      fs.truncateSync(shrinking, 10);
    };
    const b = await backup({ ...source.open, onProgress });
    expect(changed).toBe(true);
    expect(b.problems).toEqual([]);
    const target = await joinRepo(source);
    const r = await restore({ ...target.open, revision: 1 });
    expect(r.failed).toEqual([]);
    expect(fs.readFileSync(path.join(target.repoDir, 'growing'), 'utf8')).toBe('short\nand then longer\n');
    expect(fs.readFileSync(path.join(target.repoDir, 'shrinking'), 'utf8')).toBe('x'.repeat(10));
  });

  it('a revision written with the first file-list version restores', async () => {
    const fixture = path.join(import.meta.dirname, '../fixtures/file-list-v1');
    const storage = await makeRepo();
    fs.rmSync(storage.storageDir, { recursive: true });
    fs.cpSync(path.join(fixture, 'storage'), storage.storageDir, { recursive: true });
    const target = await joinRepo({ storageDir: storage.storageDir, encrypted: false }, { snapshotId: 'v1' });
    const r = await restore({ ...target.open, revision: 1 });
    expect(r.failed).toEqual([]);
    const want = JSON.parse(fs.readFileSync(path.join(fixture, 'tree.json'), 'utf8')) as Record<string, { type: string; mode: number; sha256?: string; mtimeMs?: number; target?: string }>;
    for (const [rel, e] of Object.entries(want)) {
      const abs = path.join(target.repoDir, rel);
      const st = fs.lstatSync(abs);
      expect(st.mode & 0o7777, rel).toBe(e.type === 'symlink' ? st.mode & 0o7777 : e.mode);
      if (e.sha256) expect(createHash('sha256').update(fs.readFileSync(abs)).digest('hex'), rel).toBe(e.sha256);
      if (e.mtimeMs !== undefined) expect(Math.floor(st.mtimeMs), rel).toBe(e.mtimeMs);
      if (e.target) expect(fs.readlinkSync(abs), rel).toBe(e.target);
    }
  });
});
