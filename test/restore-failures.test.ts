// A damaged entry or a file that cannot be written costs that file alone: restore reports it with
// its reason and restores everything else byte for byte; the CLI exits 3. A revision never
// writes into the .dbk/ folder of the repository it is restored into. A backup made while a
// restore is unfinished leaves out what that restore half wrote.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { encodeFileList, type FileEntry } from '../src/format/file-list.js';
import { describeTree, joinRepo, makeRepo, PASSWORD, put, seededBytes, type TestRepo, withRepository } from './support/engine.js';
import { tempDir } from './support/tmp.js';

/** A repository whose revision 1 holds a.bin, b.bin (several chunks), c.txt and sub/d.txt. */
async function source(): Promise<TestRepo> {
  const repo = await makeRepo({ chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096 });
  put(repo.repoDir, 'a.bin', seededBytes(5000, 'a'));
  put(repo.repoDir, 'b.bin', seededBytes(9000, 'b'));
  put(repo.repoDir, 'c.txt', 'plain text\n');
  put(repo.repoDir, 'sub/d.txt', 'in a folder\n');
  await backup(repo.open);
  return repo;
}

/** Saves revision 1's entries as changed by `edit` as a new revision, pointing at revision 1's chunks. */
async function craft(repo: TestRepo, edit: (entries: FileEntry[]) => FileEntry[]): Promise<number> {
  return withRepository(repo, async (r) => {
    const base = await r.loadRevision(r.snapshotId, 1);
    const list = encodeFileList(edit(await r.readFileList(base)));
    const revision = (await r.highestRevisionNumber(r.snapshotId)) + 1;
    await r.saveRevision({ ...base, revision, fileListBytes: list.length, sequences: { ...base.sequences, files: await r.writeSequence(list) } });
    return revision;
  });
}

const withPath = (entries: FileEntry[], p: string, change: (e: FileEntry) => FileEntry) => entries.map((e) => (e.path === p ? change(e) : e));

/** The tree restored, less `except`, must equal the source's. */
function expectRestoredExcept(repo: TestRepo, target: string, except: string[]): void {
  const want = describeTree(repo.repoDir);
  const got = describeTree(target);
  for (const p of except) delete want[p];
  for (const p of Object.keys(got)) if (!(p in want)) expect.fail(`restored ${p}, which should not be`);
  for (const [p, e] of Object.entries(want)) expect(got[p], p).toEqual(e);
}

describe('restore goes on past a broken file', () => {
  const damaged: [string, (e: FileEntry) => FileEntry, RegExp][] = [
    ['a size its chunk range contradicts', (e) => ({ ...e, size: e.size + 100 }), /its chunks hold \d+ bytes where its size is/],
    ['an end offset past its last chunk', (e) => ({ ...e, range: { ...e.range!, endOffset: e.range!.endOffset + 5000 } }), /outside its chunks/],
    ['a start offset past its first chunk', (e) => ({ ...e, range: { ...e.range!, startOffset: 1 << 20 } }), /outside its chunks/],
    ['a mode of 2^32', (e) => ({ ...e, mode: 2 ** 32 }), /not a file mode/],
  ];
  for (const [name, change, reason] of damaged) {
    it(`an entry with ${name} is reported; every other file is restored byte for byte`, async () => {
      const repo = await source();
      const revision = await craft(repo, (entries) => withPath(entries, 'b.bin', change));
      const target = await joinRepo(repo, {}, tempDir('dbk-target-'));
      const r = await restore({ ...target.open, revision });
      expect(r.failed).toEqual([{ path: 'b.bin', reason: expect.stringMatching(reason) }]);
      expect(r.broken).toEqual([]);
      expectRestoredExcept(repo, target.repoDir, ['b.bin']);
    });
  }

  it('a file or folder whose name the file system refuses is reported with the files inside it, the rest restored', async () => {
    const repo = await source();
    const long = 'n'.repeat(300);
    const revision = await craft(repo, (entries) => {
      const file = entries.find((e) => e.path === 'c.txt')!;
      const dir = entries.find((e) => e.path === 'sub')!;
      return [...entries, { ...file, path: long }, { ...dir, path: `sub/${long}` }, { ...file, path: `sub/${long}/inside.txt` }];
    });
    const target = await joinRepo(repo, {}, tempDir('dbk-target-'));
    const r = await restore({ ...target.open, revision });
    expect(r.failed.map((f) => f.path).sort()).toEqual([long, `sub/${long}`, `sub/${long}/inside.txt`].sort());
    for (const f of r.failed) expect(f.reason).toMatch(/ENAMETOOLONG|name too long/);
    expect(r.restoredFiles).toBe(4); // a.bin, b.bin, c.txt, sub/d.txt
    expectRestoredExcept(repo, target.repoDir, []);
  });

  it('never writes into the .dbk/ folder of the repository it restores into', async () => {
    const repo = await source();
    const revision = await craft(repo, (entries) => {
      const file = entries.find((e) => e.path === 'c.txt')!;
      const dir = entries.find((e) => e.path === 'sub')!;
      return [...entries, { ...dir, path: '.dbk' }, { ...file, path: '.dbk/filters' }, { ...file, path: '.dbk/known_hosts' }];
    });
    const target = await joinRepo(repo, {}, tempDir('dbk-target-'));
    const dbkBefore = describeTree(path.join(target.repoDir, '.dbk'));
    const r = await restore({ ...target.open, revision, overwrite: true });
    expect(r.failed.map((f) => f.path).sort()).toEqual(['.dbk', '.dbk/filters', '.dbk/known_hosts']);
    for (const f of r.failed) expect(f.reason).toMatch(/never restored into/);
    const dbkAfter = describeTree(path.join(target.repoDir, '.dbk'));
    for (const p of ['filters', 'known_hosts', 'preferences']) expect(dbkAfter[p]).toEqual(dbkBefore[p]);
    expectRestoredExcept(repo, target.repoDir, []);
  });

  it('a chunk length beyond the storage’s largest chunk refuses the revision before anything is sized by it', async () => {
    const repo = await source();
    const revision = await withRepository(repo, async (r) => {
      const base = await r.loadRevision(r.snapshotId, 1);
      const lengths = Buffer.alloc(base.chunkCount * 4);
      (await r.readChunkLengths(base)).forEach((n, i) => {
        lengths.writeUInt32LE(i === 0 ? 0xffffffff : n, i * 4);
      });
      const n = (await r.highestRevisionNumber(r.snapshotId)) + 1;
      await r.saveRevision({ ...base, revision: n, sequences: { ...base.sequences, chunkLengths: await r.writeSequence(lengths) } });
      return n;
    });
    const target = await joinRepo(repo, {}, tempDir('dbk-target-'));
    await expect(restore({ ...target.open, revision })).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/chunk 0 of 4294967295 bytes, outside 1–4096/) });
  });

  it('the CLI prints each file not restored on a line of its own and exits 3', async () => {
    const repo = await source();
    const revision = await craft(repo, (entries) => withPath(entries, 'a.bin', (e) => ({ ...e, size: 1 })));
    const target = await joinRepo(repo, {}, tempDir('dbk-target-'));
    const cli = path.resolve('dist/src/cli/main.js');
    const run = spawnSync(process.execPath, [cli, 'restore', '-r', String(revision)], { cwd: target.repoDir, env: { ...process.env, DBK_PASSWORD: PASSWORD }, encoding: 'utf8' });
    expect(run.status, run.stderr + run.stdout).toBe(3);
    expect(run.stdout).toMatch(/^not restored: a\.bin: its chunks hold \d+ bytes where its size is 1$/m);
    expectRestoredExcept(repo, target.repoDir, ['a.bin']);
  });
});

describe('a backup while a restore is unfinished', () => {
  it('leaves out the files that restore half wrote and says so, until it is run again', async () => {
    const repo = await source();
    fs.writeFileSync(path.join(repo.repoDir, '.dbk', 'restore-unfinished'), '');
    fs.chmodSync(path.join(repo.repoDir, 'a.bin'), 0o1600); // half written by the killed restore
    put(repo.repoDir, '.dbk-restore-0123456789abcdef', 'a temporary file of the writer', { mode: 0o1600 });
    const r = await backup(repo.open);
    expect(r.problems.map((p) => p.path).sort()).toEqual(['.dbk-restore-0123456789abcdef', 'a.bin']);
    for (const p of r.problems) expect(p.reason).toMatch(/restore that did not finish/);
    const files = await withRepository(repo, async (x) => (await x.readFileList(await x.loadRevision(x.snapshotId, r.revision!))).map((e) => e.path));
    expect(files).not.toContain('a.bin');
    expect(files).toContain('b.bin');

    fs.rmSync(path.join(repo.repoDir, '.dbk', 'restore-unfinished'));
    const later = await backup(repo.open);
    expect(later.problems).toEqual([]);
  });
});
