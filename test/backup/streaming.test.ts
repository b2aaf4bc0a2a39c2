// The backup as a stream: the previous file list is met in walk order (names that sort around
// '/' included), entries wait for their content only as long as the limits allow (the reader is
// told to cut when nothing more is being read), and every revision restores byte for byte.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { restore } from '../../src/commands/restore.js';
import { compareWalkOrder } from '../../src/tree/scanner.js';
import { describeTree, joinRepo, makeRepo, put, seededBytes, stampMtimes, type TestRepo } from '../support/engine.js';

/** Names whose order differs between plain string order and the walk's, and some beyond ASCII. */
const TRICKY = ['a', 'a/b', 'a/c/d', 'a!', 'a-', 'a.txt', 'a0', 'ab', 'A', 'Z/z', '_', 'é', 'e\u0301', '\u{1F600}', 'z', 'z/a b', 'zz'];

async function expectRestores(repo: TestRepo, revision: number): Promise<void> {
  const target = await joinRepo(repo);
  const r = await restore({ ...target.open, revision });
  expect(r.broken).toEqual([]);
  expect(describeTree(target.repoDir)).toEqual(describeTree(repo.repoDir));
}

describe('backup as a stream', () => {
  it('walk order puts a folder just before its contents and a name that ends before longer ones', () => {
    const sorted = ['a.txt', 'a/b', 'a', 'ab', 'a/c/d', 'a!'].sort(compareWalkOrder);
    expect(sorted).toEqual(['a', 'a/b', 'a/c/d', 'a!', 'a.txt', 'ab']);
  });

  it('an unchanged backup of names that sort around "/" reads nothing: the previous list is met in walk order', async () => {
    const repo = await makeRepo();
    for (const [i, name] of TRICKY.entries()) {
      if (TRICKY.some((other) => other.startsWith(`${name}/`))) continue; // a folder
      put(repo.repoDir, name, seededBytes(100 + i * 37, name));
    }
    stampMtimes(repo.repoDir);
    const first = await backup(repo.open);
    expect(first.problems).toEqual([]);
    const second = await backup(repo.open);
    expect(second).toMatchObject({ readFiles: 0, newChunks: 0, files: first.files, bytes: first.bytes });
    fs.appendFileSync(path.join(repo.repoDir, 'a.txt'), 'more');
    const third = await backup(repo.open);
    expect(third.readFiles).toBe(1);
    await expectRestores(repo, 3);
  });

  it('a changed file followed by many unchanged ones: the reader is told to cut, and all restores', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, '0-first.bin', seededBytes(5000, 'first'));
    for (let i = 0; i < 300; i++) put(repo.repoDir, `d${i % 3}/f${String(i).padStart(3, '0')}`, seededBytes(50 + (i % 40), `f${i}`));
    put(repo.repoDir, 'z-hard', seededBytes(777, 'hard'));
    fs.linkSync(path.join(repo.repoDir, 'z-hard'), path.join(repo.repoDir, 'z-hard2'));
    stampMtimes(repo.repoDir);
    const limits = { unreadFiles: 4, waitingEntries: 16 };
    await backup({ ...repo.open, limits });
    put(repo.repoDir, '0-first.bin', seededBytes(5000, 'changed'));
    put(repo.repoDir, 'd1/f100', seededBytes(60, 'changed too'));
    const second = await backup({ ...repo.open, limits });
    expect(second.readFiles).toBe(2);
    expect(second.problems).toEqual([]);
    await expectRestores(repo, 2);
    const hashed = await backup({ ...repo.open, hash: true, limits });
    expect(hashed.readFiles).toBe(second.files - 1); // one of the two hard-linked names is read
    await expectRestores(repo, 3);
  });
});
