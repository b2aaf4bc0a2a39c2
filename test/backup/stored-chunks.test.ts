// A chunk the storage has is not sent again: a second snapshot id backing up the same data to a
// populated storage finds its chunks there, and a chunk the cache's list vouches for but a prune
// has meanwhile made a fossil is sent, so that the prune may delete its fossil.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { restore } from '../../src/commands/restore.js';
import { FOSSIL_SUFFIX } from '../../src/format/ids.js';
import { chunkFiles, describeTree, joinRepo, makeRepo, put, seededBytes, stampMtimes, type TestRepo } from '../support/engine.js';

function buildTree(root: string): void {
  put(root, 'big.bin', seededBytes(3 << 20, 'big'));
  for (let i = 0; i < 30; i++) put(root, `small/${i}.bin`, seededBytes(20_000 + i * 101, `small ${i}`));
  stampMtimes(root);
}

/** A second machine: its own repository folder and cache, the same storage, the same files. */
async function secondMachine(first: TestRepo): Promise<TestRepo> {
  const other = await joinRepo(first, { encrypt: first.encrypted, snapshotId: 'other' });
  fs.cpSync(first.repoDir, other.repoDir, { recursive: true, preserveTimestamps: true, filter: (p) => !p.includes(`${path.sep}.dbk`) });
  return other;
}

async function expectRestores(repo: TestRepo, snapshotId: string): Promise<void> {
  const target = await joinRepo(repo, { encrypt: repo.encrypted, snapshotId });
  const r = await restore({ ...target.open, revision: 1 });
  expect(r.broken).toEqual([]);
  expect(describeTree(target.repoDir)).toEqual(describeTree(repo.repoDir));
}

const dataFiles = (storageDir: string) => chunkFiles(storageDir).filter((f) => !f.endsWith(FOSSIL_SUFFIX));

describe('chunks the storage has', () => {
  it('are not sent by a second snapshot id: it lists the storage once and stats what the list names', async () => {
    const first = await makeRepo({ encrypt: true });
    buildTree(first.repoDir);
    const a = await backup(first.open);
    const before = dataFiles(first.storageDir).length;

    const second = await secondMachine(first);
    const b = await backup(second.open);
    expect(b.newChunks).toBe(0);
    expect(b.uploadedBytes).toBe(0);
    expect(b.foundChunks).toBe(a.newChunks);
    // only the revision's own metadata may be new (its file list, chunk hashes and lengths)
    expect(dataFiles(first.storageDir).length).toBeLessThanOrEqual(before + 3);
    await expectRestores(second, 'other');
  });

  it('a chunk the cached list names but a prune has made a fossil is sent again', async () => {
    const first = await makeRepo();
    buildTree(first.repoDir);
    await backup(first.open);
    const second = await secondMachine(first);
    await check({ ...second.open, all: true }); // the second machine's cache now lists every chunk

    // a prune in the middle of its first step: fossils made, its record not written yet, and this
    // backup not among the running backups it will wait for
    const fossils = dataFiles(first.storageDir).map((f) => {
      fs.renameSync(f, f + FOSSIL_SUFFIX);
      return f + FOSSIL_SUFFIX;
    });
    const b = await backup(second.open);
    expect(b.foundChunks).toBe(0);
    expect(b.newChunks).toBeGreaterThan(10);
    // that prune's second step deletes its fossils: the second revision is whole all the same
    for (const f of fossils) fs.rmSync(f);
    await expectRestores(second, 'other');
  });

  it('a storage only this id uses is neither listed nor asked', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    await backup(repo.open);
    put(repo.repoDir, 'new.bin', seededBytes(100_000, 'new'));
    const b = await backup(repo.open);
    expect(b.foundChunks).toBe(0);
    expect(b.newChunks).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(repo.repoDir, '.dbk'))).toBe(true);
  });
});
