// Backup then restore into a fresh repository on the same storage reproduces the tree byte for
// byte: content, mode, mtime, owner, symlinks, empty files and folders, unicode and 255-byte
// names, files at the chunk-size edges; on plain and encrypted storages.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { init } from '../src/commands/init.js';
import { restore } from '../src/commands/restore.js';
import { DbkError } from '../src/errors.js';
import { asking, describeTree, joinRepo, KiB, makeRepo, put, revisionContents, seededBytes, stampMtimes } from './support/engine.js';

const MIN = 16 * KiB; // -c 64K: minimum a quarter, maximum four times the average
const MAX = 256 * KiB;
const isRoot = process.getuid?.() === 0;

/** Everything a restore must get right, in one tree. */
function buildTree(root: string): void {
  put(root, 'empty.txt', '');
  put(root, 'hello.txt', 'hello, world\n');
  put(root, 'exactly-min.bin', seededBytes(MIN, 'min'));
  put(root, 'max-plus-one.bin', seededBytes(MAX + 1, 'max'));
  put(root, 'compressible.txt', 'all work and no play\n'.repeat(30_000));
  put(root, 'streamed.bin', randomBytes((8 << 20) + 12_345)); // above what restore gathers in memory
  put(root, 'bin/run.sh', '#!/bin/sh\necho hi\n', { mode: 0o755 });
  put(root, 'private/secret', 'shh', { mode: 0o600 });
  put(root, 'private/odd-mode', 'x', { mode: 0o4751 });
  put(root, 'unicode/héllo wörld ✓ 日本語.txt', 'unicode name\n');
  put(root, `unicode/${'日'.repeat(85)}`, '255 bytes of name\n'); // 85 × 3 bytes
  put(root, `long/${'n'.repeat(251)}.txt`, 'a 255-byte name\n');
  put(root, 'spaces and\ttabs/new\nline', 'odd characters\n');
  fs.mkdirSync(path.join(root, 'empty-folder'));
  fs.mkdirSync(path.join(root, 'deep/a/b/c/d'), { recursive: true });
  fs.symlinkSync('../hello.txt', path.join(root, 'bin/relative-link'));
  fs.symlinkSync('/nonexistent/absolute/target', path.join(root, 'dangling-absolute'));
  fs.symlinkSync('deep/a', path.join(root, 'link-to-folder'));
  fs.symlinkSync('ziel ✓', path.join(root, 'unicode/link ✓'));
  fs.chmodSync(path.join(root, 'private'), 0o700);
  if (isRoot) fs.chownSync(path.join(root, 'private/secret'), 1234, 5678);
  stampMtimes(root);
}

async function roundTrip(encrypt: boolean): Promise<void> {
  const source = await makeRepo({ encrypt });
  buildTree(source.repoDir);
  const expected = describeTree(source.repoDir);

  const b = await backup(source.open);
  expect(b.revision).toBe(1);
  expect(b.problems).toEqual([]);
  expect(b.skipped).toEqual([]);
  expect(b.files).toBe(Object.values(expected).filter((e) => e.type === 'file').length);
  expect(b.bytes).toBe(Object.values(expected).reduce((n, e) => n + e.size, 0));
  expect(describeTree(source.repoDir)).toEqual(expected); // backing up changes nothing

  const target = await joinRepo(source);
  const r = await restore({ ...target.open, revision: 1 });
  expect(r.broken).toEqual([]);
  expect(r.keptFiles).toEqual([]);
  expect(r.restoredFiles).toBe(Object.keys(expected).filter((p) => expected[p]!.type !== 'dir').length);
  expect(describeTree(target.repoDir)).toEqual(expected);

  // restoring again finds everything in place
  const again = await restore({ ...target.open, revision: 1 });
  expect(again.restoredFiles).toBe(0);
  expect(again.keptFiles).toEqual([]);
  expect(describeTree(target.repoDir)).toEqual(expected);
}

describe('backup and restore', () => {
  it('round-trips a tree byte for byte on a plain storage', async () => {
    await roundTrip(false);
  });

  it('round-trips a tree byte for byte on an encrypted storage', async () => {
    await roundTrip(true);
  });

  it('records files at the chunk-size edges in the right chunks', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a-min.bin', seededBytes(MIN, 'a'));
    put(repo.repoDir, 'b-max.bin', seededBytes(MAX + 1, 'b'));
    await backup(repo.open);
    const { entries } = await revisionContents(repo, 1);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('a-min.bin')!.range).toMatchObject({ startChunk: 0, startOffset: 0 });
    const big = byPath.get('b-max.bin')!.range!;
    expect(big.endChunk).toBeGreaterThan(big.startChunk); // more than the maximum cannot fit one chunk
  });

  it('round-trips an empty repository and one holding only empty files and folders', async () => {
    const empty = await makeRepo({ encrypt: true });
    expect((await backup(empty.open)).files).toBe(0);
    const emptyTarget = await joinRepo(empty);
    expect((await restore({ ...emptyTarget.open, revision: 1 })).restoredFiles).toBe(0);
    expect(describeTree(emptyTarget.repoDir)).toEqual({});

    const hollow = await makeRepo();
    put(hollow.repoDir, 'a/empty', '');
    put(hollow.repoDir, 'b', '');
    fs.mkdirSync(path.join(hollow.repoDir, 'c/d'), { recursive: true });
    stampMtimes(hollow.repoDir);
    const expected = describeTree(hollow.repoDir);
    const b = await backup(hollow.open);
    expect(b.newChunks).toBe(0);
    const target = await joinRepo(hollow);
    await restore({ ...target.open, revision: 1 });
    expect(describeTree(target.repoDir)).toEqual(expected);
  });

  it('brings the repository back to an older revision in place with overwrite and delete', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'keep.txt', 'version 1\n');
    put(repo.repoDir, 'gone-later.txt', 'only in revision 1\n');
    put(repo.repoDir, 'dir/nested.txt', 'nested 1\n');
    stampMtimes(repo.repoDir);
    const first = describeTree(repo.repoDir);
    await backup(repo.open);

    put(repo.repoDir, 'keep.txt', 'version 2 is longer\n');
    fs.rmSync(path.join(repo.repoDir, 'gone-later.txt'));
    put(repo.repoDir, 'new-file.txt', 'added later\n');
    put(repo.repoDir, 'new-dir/x', 'x');
    await backup(repo.open);

    const plain = await restore({ ...repo.open, revision: 1 });
    expect(plain.keptFiles).toEqual(['keep.txt']); // differs, and overwrite was not asked for
    expect(fs.readFileSync(path.join(repo.repoDir, 'keep.txt'), 'utf8')).toBe('version 2 is longer\n');

    const r = await restore({ ...repo.open, revision: 1, overwrite: true, delete: true });
    expect(r.deletedFiles.sort()).toEqual(['new-dir', 'new-dir/x', 'new-file.txt']);
    expect(describeTree(repo.repoDir)).toEqual(first);
  });

  it('with overwrite, puts back entries whose type changed since (file, folder, symlink)', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'was-file', 'a file\n');
    put(repo.repoDir, 'was-dir/inner', 'inside\n');
    fs.symlinkSync('was-file', path.join(repo.repoDir, 'was-link'));
    stampMtimes(repo.repoDir);
    const first = describeTree(repo.repoDir);
    await backup(repo.open);

    fs.rmSync(path.join(repo.repoDir, 'was-file'));
    put(repo.repoDir, 'was-file/now-inside', 'a folder now\n');
    fs.rmSync(path.join(repo.repoDir, 'was-dir'), { recursive: true });
    put(repo.repoDir, 'was-dir', 'a file now\n');
    fs.rmSync(path.join(repo.repoDir, 'was-link'));
    put(repo.repoDir, 'was-link', 'a file now\n');
    await backup(repo.open);

    const refused = await restore({ ...repo.open, revision: 1 });
    expect(refused.failed.map((f) => f.path).sort()).toEqual(['was-dir', 'was-dir/inner']);
    for (const f of refused.failed) expect(f.reason).toMatch(/was-dir is in the way of a folder being restored \(a file\)/);
    await restore({ ...repo.open, revision: 1, overwrite: true, delete: true });
    expect(describeTree(repo.repoDir)).toEqual(first);
    await restore({ ...repo.open, revision: 2, overwrite: true, delete: true });
    expect(fs.readFileSync(path.join(repo.repoDir, 'was-file/now-inside'), 'utf8')).toBe('a folder now\n');
    expect(fs.readFileSync(path.join(repo.repoDir, 'was-link'), 'utf8')).toBe('a file now\n');
  });

  it('with hash, tells files apart by content even when size and mtime agree', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'same-size.txt', 'original\n', { mtimeMs: 1_600_000_000_000 });
    await backup(repo.open);
    put(repo.repoDir, 'same-size.txt', 'tampered\n', { mtimeMs: 1_600_000_000_000 });
    const file = path.join(repo.repoDir, 'same-size.txt');

    expect((await restore({ ...repo.open, revision: 1, overwrite: true })).unchangedFiles).toBe(1);
    expect(fs.readFileSync(file, 'utf8')).toBe('tampered\n');
    expect((await restore({ ...repo.open, revision: 1, hash: true })).keptFiles).toEqual(['same-size.txt']);
    expect((await restore({ ...repo.open, revision: 1, hash: true, overwrite: true })).restoredFiles).toBe(1);
    expect(fs.readFileSync(file, 'utf8')).toBe('original\n');
    expect((await restore({ ...repo.open, revision: 1, hash: true })).unchangedFiles).toBe(1);
  });

  it('a dry run counts what it would upload, and uploads and records nothing', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.bin', seededBytes(300_000, 'dry'));
    const dry = await backup({ ...repo.open, dryRun: true });
    expect(dry.revision).toBeUndefined();
    expect(dry.newChunks).toBeGreaterThan(0);
    expect(dry.uploadedBytes).toBe(0);
    expect(fs.existsSync(path.join(repo.storageDir, 'chunks'))).toBe(false);
    expect(fs.existsSync(path.join(repo.storageDir, 'snapshots'))).toBe(false);
    const real = await backup(repo.open);
    expect(real.revision).toBe(1);
    expect(real.newChunks).toBe(dry.newChunks);
  });

  it('two backups of one snapshot id at once both get a revision of their own', async () => {
    const one = await makeRepo({ encrypt: true });
    const two = await joinRepo(one);
    put(one.repoDir, 'one.txt', 'from the first\n');
    put(two.repoDir, 'two.txt', 'from the second\n');
    const results = await Promise.all([backup(one.open), backup(two.open)]);
    expect(results.map((r) => r.revision).sort()).toEqual([1, 2]);
    for (const r of results) {
      const target = await joinRepo(one);
      await restore({ ...target.open, revision: r.revision! });
      expect(Object.keys(describeTree(target.repoDir))).toEqual([r === results[0] ? 'one.txt' : 'two.txt']);
    }
  });

  it('restores only what the patterns select', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'docs/a.md', 'a');
    put(repo.repoDir, 'docs/sub/b.md', 'b');
    put(repo.repoDir, 'src/c.ts', 'c');
    await backup(repo.open);
    const target = await joinRepo(repo);
    await restore({ ...target.open, revision: 1, patterns: ['docs/**'] });
    expect(Object.keys(describeTree(target.repoDir)).sort()).toEqual(['docs', 'docs/a.md', 'docs/sub', 'docs/sub/b.md']);
  });

  it('fails with WRONG_PASSWORD when the password is wrong, at backup, restore and join', async () => {
    const repo = await makeRepo({ encrypt: true });
    put(repo.repoDir, 'x.txt', 'x');
    await backup(repo.open);
    const wrong = { repoDir: repo.repoDir, askPassword: asking('not the password') };
    await expect(backup(wrong)).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    await expect(restore({ ...wrong, revision: 1 })).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    await expect(joinRepo(repo, { password: 'not the password' })).rejects.toBeInstanceOf(DbkError);
    await expect(joinRepo(repo, { password: 'not the password' })).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    // without a password at all
    await expect(backup({ repoDir: repo.repoDir })).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    // no revision was written by the failed attempts
    const target = await joinRepo(repo);
    await expect(restore({ ...target.open, revision: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses to init a folder twice', async () => {
    const repo = await makeRepo();
    await expect(init({ repoDir: repo.repoDir, snapshotId: 'x', storageUrl: repo.storageDir, kdfLogN: 10 })).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
