// Deduplication: an unchanged tree costs no new chunk and no file reads; an edit re-uploads only
// the chunks around it; revisions that mix reused and newly cut chunks restore exactly.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { chunkFiles, describeTree, joinRepo, makeRepo, put, seededBytes, stampMtimes, type TestRepo, type TreeEntry } from './support/engine.js';

const BIG = 2 << 20;
const SMALL_FILES = 40;

/** `stamp`: set distinct whole-millisecond mtimes; else files keep the kernel's nanosecond times. */
function buildTree(root: string, stamp = true): void {
  put(root, 'big.bin', seededBytes(BIG, 'big'));
  for (let i = 0; i < SMALL_FILES; i++) put(root, `small/${String(i).padStart(2, '0')}.txt`, seededBytes(1000 + i * 97, `small ${i}`).toString('base64'));
  if (stamp) stampMtimes(root);
}

async function expectRestores(repo: TestRepo, revision: number, expected: Record<string, TreeEntry>): Promise<void> {
  const target = await joinRepo(repo);
  const r = await restore({ ...target.open, revision });
  expect(r.broken).toEqual([]);
  expect(describeTree(target.repoDir)).toEqual(expected);
}

describe('deduplication', () => {
  it('an unchanged tree uploads no new chunk and reads no file, with or without -hash', async () => {
    const repo = await makeRepo({ encrypt: true });
    buildTree(repo.repoDir);
    const first = await backup(repo.open);
    expect(first.readFiles).toBe(SMALL_FILES + 1);
    expect(first.newChunks).toBeGreaterThan(10);
    const stored = chunkFiles(repo.storageDir).length;

    const second = await backup(repo.open);
    expect(second.revision).toBe(2);
    expect(second).toMatchObject({ newChunks: 0, uploadedBytes: 0, readFiles: 0, readBytes: 0, files: first.files, bytes: first.bytes });

    const hashed = await backup({ ...repo.open, hash: true });
    expect(hashed).toMatchObject({ newChunks: 0, uploadedBytes: 0, readFiles: SMALL_FILES + 1, readBytes: first.bytes });
    // only metadata may differ (the revision's own sequences); no data chunk was added
    expect(chunkFiles(repo.storageDir).length).toBeLessThanOrEqual(stored + 2);
    await expectRestores(repo, 3, describeTree(repo.repoDir));
  });

  it('one byte inserted at the front of a large file re-uploads only the chunks around it', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    const first = await backup(repo.open);
    const big = path.join(repo.repoDir, 'big.bin');
    fs.writeFileSync(big, Buffer.concat([Buffer.from('!'), fs.readFileSync(big)]));
    const expected = describeTree(repo.repoDir);

    const second = await backup(repo.open);
    expect(second.readFiles).toBe(1);
    expect(second.readBytes).toBe(BIG + 1);
    expect(second.newChunks).toBeGreaterThan(0);
    expect(second.newChunks).toBeLessThanOrEqual(3);
    expect(second.newChunks).toBeLessThan(first.newChunks / 5);
    await expectRestores(repo, 2, expected);

    // the same edit, found by content alone (-hash) after its mtime was put back
    const again = await makeRepo();
    buildTree(again.repoDir);
    await backup(again.open);
    const st = fs.statSync(path.join(again.repoDir, 'big.bin'));
    fs.writeFileSync(path.join(again.repoDir, 'big.bin'), fs.readFileSync(big));
    fs.utimesSync(path.join(again.repoDir, 'big.bin'), st.atime, st.mtime);
    const hashed = await backup({ ...again.open, hash: true });
    expect(hashed.newChunks).toBeGreaterThan(0);
    expect(hashed.newChunks).toBeLessThanOrEqual(3);
  });

  it('a touched file is read again but its content costs (almost) nothing', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    await backup(repo.open);
    const now = new Date();
    fs.utimesSync(path.join(repo.repoDir, 'big.bin'), now, now);
    const second = await backup(repo.open);
    expect(second.readFiles).toBe(1);
    expect(second.newChunks).toBeLessThanOrEqual(2); // the file's first and last chunk no longer share bytes with neighbours
  });

  it('revisions mixing reused and newly cut chunks restore exactly, generation after generation', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    const states: Record<string, TreeEntry>[] = [];
    const edits = [
      () => put(repo.repoDir, 'small/07.txt', 'changed in the middle of a shared chunk', { mtimeMs: 1_700_000_000_000 }),
      () => {
        fs.rmSync(path.join(repo.repoDir, 'small/20.txt'));
        put(repo.repoDir, 'small/20b.txt', seededBytes(70_000, 'new'), { mtimeMs: 1_700_000_001_000 });
        put(repo.repoDir, 'small/39.txt', 'last file shrank', { mtimeMs: 1_700_000_002_000 });
      },
      () => {
        const big = path.join(repo.repoDir, 'big.bin');
        const data = fs.readFileSync(big);
        data.write('overwritten in place', 1_000_000);
        put(repo.repoDir, 'big.bin', data, { mtimeMs: 1_700_000_003_000 });
        put(repo.repoDir, 'small/00.txt', '', { mtimeMs: 1_700_000_004_000 });
      },
    ];
    for (const edit of [() => {}, ...edits]) {
      edit();
      states.push(describeTree(repo.repoDir));
      const r = await backup(repo.open);
      expect(r.readFiles).toBeLessThanOrEqual(r.revision === 1 ? SMALL_FILES + 1 : 3);
    }
    for (const [i, expected] of states.entries()) await expectRestores(repo, i + 1, expected);
  });

  it('a restored repository backs up again without reading anything', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir, false);
    await backup(repo.open);
    const target = await joinRepo(repo);
    await restore({ ...target.open, revision: 1 });
    const next = await backup(target.open);
    expect(next).toMatchObject({ revision: 2, readFiles: 0, newChunks: 0 });
  });
});
