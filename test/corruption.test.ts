// Damaged storage at restore: a flipped byte in a chunk or a missing chunk is reported with the
// chunk's id and every file it breaks; those files are not written (an existing copy is left
// alone), and every other file is restored byte for byte.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { chunkFile, describeTree, joinRepo, makeRepo, put, revisionContents, seededBytes, stampMtimes, type TestRepo, withRepository } from './support/engine.js';

type Damage = 'flip' | 'missing';

/** `large`: a.bin above the size restore streams to disk instead of gathering in memory (8 MiB) */
function buildTree(root: string, compressible: boolean, large = false): void {
  const bytes = (n: number, seed: string) => (compressible ? Buffer.from(seededBytes(n, seed).toString('hex').slice(0, n)) : seededBytes(n, seed));
  put(root, 'a.bin', large ? randomBytes(9 << 20) : bytes(800_000, 'a'));
  put(root, 'm.bin', bytes(300_000, 'm'));
  put(root, 'z/1.txt', 'one\n');
  put(root, 'z/2.txt', 'two\n');
  put(root, 'z/empty', '');
  stampMtimes(root);
}

/** The chunk id at sequence index `pick(...)` and the files whose bytes lie in that chunk. */
async function victim(repo: TestRepo, pick: (ranges: Map<string, { startChunk: number; endChunk: number }>) => number) {
  const { entries, chunkIds } = await revisionContents(repo, 1);
  const ranges = new Map(entries.filter((e) => e.range).map((e) => [e.path, e.range!]));
  const id = chunkIds[pick(ranges)]!;
  const files = [...ranges].filter(([, r]) => chunkIds.slice(r.startChunk, r.endChunk + 1).includes(id)).map(([p]) => p);
  return { id, files };
}

function damage(repo: TestRepo, id: string, how: Damage): void {
  const file = chunkFile(repo.storageDir, id);
  if (how === 'missing') {
    fs.rmSync(file);
    return;
  }
  const data = fs.readFileSync(file);
  data[Math.floor(data.length / 2)]! ^= 0x40;
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, data);
}

/** Restores revision 1 into a fresh repository and checks the outcome against the original tree. */
async function expectReported(repo: TestRepo, v: { id: string; files: string[] }, how: Damage): Promise<void> {
  const expected = describeTree(repo.repoDir);
  const target = await joinRepo(repo);
  const r = await restore({ ...target.open, revision: 1 });
  expect(r.broken).toHaveLength(1);
  expect(r.broken[0]!.chunkId).toBe(v.id);
  expect(r.broken[0]!.files.sort()).toEqual(v.files.sort());
  if (how === 'missing') expect(r.broken[0]!.reason).toBe('missing');
  const restored = describeTree(target.repoDir);
  for (const f of v.files) delete expected[f];
  // folders holding a broken file got a new mtime when it was attempted; compare them without it
  for (const f of v.files)
    for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) {
      expected[d] = { ...expected[d]!, mtimeMs: 0 };
      restored[d] = { ...restored[d]!, mtimeMs: 0 };
    }
  expect(restored).toEqual(expected);
  expect(r.restoredFiles).toBe(Object.values(expected).filter((e) => e.type !== 'dir').length);
  expect(Object.keys(restored).filter((p) => path.basename(p).startsWith('.dbk-restore'))).toEqual([]);
}

describe('restore from a damaged storage', () => {
  const cases: { encrypt: boolean; compressible: boolean; how: Damage; large?: boolean }[] = [
    { encrypt: false, compressible: false, how: 'flip' },
    { encrypt: false, compressible: true, how: 'flip' },
    { encrypt: true, compressible: false, how: 'flip' },
    { encrypt: true, compressible: true, how: 'missing' },
    { encrypt: false, compressible: false, how: 'missing' },
    { encrypt: true, compressible: false, how: 'flip', large: true },
    { encrypt: false, compressible: false, how: 'missing', large: true },
  ];
  for (const c of cases) {
    const storage = `${c.encrypt ? 'encrypted' : 'plain'} storage, ${c.compressible ? 'compressed' : 'raw'} chunks`;
    it(`${c.how === 'flip' ? 'a flipped byte' : 'a missing chunk'} in the middle of a ${c.large ? 'streamed' : 'large'} file (${storage})`, async () => {
      const repo = await makeRepo({ encrypt: c.encrypt });
      buildTree(repo.repoDir, c.compressible, c.large);
      await backup(repo.open);
      const v = await victim(repo, (r) => {
        const a = r.get('a.bin')!;
        expect(a.endChunk - a.startChunk).toBeGreaterThanOrEqual(4);
        return a.startChunk + 2;
      });
      expect(v.files).toEqual(['a.bin']);
      damage(repo, v.id, c.how);
      await expectReported(repo, v, c.how);
    });
  }

  it('a damaged chunk shared by several files names them all', async () => {
    const repo = await makeRepo({ encrypt: true });
    buildTree(repo.repoDir, false);
    await backup(repo.open);
    const v = await victim(repo, (r) => r.get('z/1.txt')!.startChunk);
    expect(v.files).toEqual(expect.arrayContaining(['z/1.txt', 'z/2.txt']));
    damage(repo, v.id, 'flip');
    await expectReported(repo, v, 'flip');
  });

  it('a damaged revision file or metadata chunk fails the restore with CORRUPT, writing nothing', async () => {
    const repo = await makeRepo({ encrypt: true });
    buildTree(repo.repoDir, false);
    await backup(repo.open);
    await backup({ ...repo.open, hash: true }); // revision 2: same data and metadata chunks
    const metadata = await withRepository(repo, async (r) => r.chunkId((await r.loadRevision(r.snapshotId, 1)).sequences.files[0]!));
    const revisionFile = path.join(repo.storageDir, 'snapshots/test/1');
    const data = fs.readFileSync(revisionFile);
    data[data.length - 20]! ^= 1;
    fs.writeFileSync(revisionFile, data);
    const target = await joinRepo(repo);
    await expect(restore({ ...target.open, revision: 1 })).rejects.toMatchObject({ code: 'CORRUPT' });

    damage(repo, metadata, 'flip');
    await expect(restore({ ...target.open, revision: 2 })).rejects.toMatchObject({ code: 'CORRUPT' });
    expect(describeTree(target.repoDir)).toEqual({});
  });

  it('leaves an existing copy of a broken file as it was', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir, false);
    await backup(repo.open);
    const v = await victim(repo, (r) => r.get('a.bin')!.startChunk + 1);
    damage(repo, v.id, 'flip');
    put(repo.repoDir, 'a.bin', 'local edit');
    fs.rmSync(path.join(repo.repoDir, 'z/1.txt'));
    const r = await restore({ ...repo.open, revision: 1, overwrite: true });
    expect(r.broken.map((b) => b.files)).toEqual([['a.bin']]);
    expect(fs.readFileSync(path.join(repo.repoDir, 'a.bin'), 'utf8')).toBe('local edit');
    expect(fs.readFileSync(path.join(repo.repoDir, 'z/1.txt'), 'utf8')).toBe('one\n');
    expect(fs.readdirSync(repo.repoDir).filter((n) => n.startsWith('.dbk-restore'))).toEqual([]);
  });
});
