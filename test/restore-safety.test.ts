// Restore writes nothing outside the repository, whatever the revision says: crafted paths with
// '..' or absolute paths are refused before anything is written, and symlinks found in the
// target (a parent folder, the file itself) are never written through.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { encodeFileList, type FileEntry } from '../src/format/file-list.js';
import { describeTree, joinRepo, makeRepo, put, type TestRepo, withRepository } from './support/engine.js';
import { tempDir } from './support/tmp.js';

/** A storage with revision 1 (ok.txt, sub/x.txt) backed up honestly. */
async function honestRepo(): Promise<TestRepo> {
  const repo = await makeRepo({ encrypt: true });
  put(repo.repoDir, 'ok.txt', 'harmless\n');
  put(repo.repoDir, 'sub/x.txt', 'also harmless\n');
  await backup(repo.open);
  return repo;
}

/** Saves the next revision: revision 1's entries changed by `edit`, pointing at revision 1's chunks. */
async function craftRevision(repo: TestRepo, edit: (entries: FileEntry[]) => FileEntry[]): Promise<number> {
  return withRepository(repo, async (r) => {
    const latest = (await r.listRevisions(r.snapshotId)).at(-1)!;
    const base = await r.loadRevision(r.snapshotId, 1);
    const list = encodeFileList(edit(await r.readFileList(base)));
    const files = await r.writeSequence(list);
    const revision = latest + 1;
    await r.saveRevision({ ...base, revision, fileListBytes: list.length, sequences: { ...base.sequences, files } });
    return revision;
  });
}

/** A restore target whose parent folder is watched for anything written beside it. */
async function targetIn(repo: TestRepo): Promise<{ target: TestRepo; parent: string }> {
  const parent = tempDir('dbk-jail-');
  const target = await joinRepo(repo, {}, path.join(parent, 'repo'));
  return { target, parent };
}

describe('restore safety', () => {
  let repo: TestRepo;
  beforeAll(async () => {
    repo = await honestRepo();
  });

  const evilPaths = ['../evil', 'sub/../../evil', '../../../../../../../../tmp/dbk-evil', '/tmp/dbk-absolute-evil', './ok.txt', 'sub//x', 'a\0b'];
  const cases = [
    ...evilPaths.map((p) => ({ type: 'file' as const, evil: p })),
    ...(['dir', 'symlink'] as const).flatMap((type) => ['../evil', '/tmp/dbk-absolute-evil'].map((p) => ({ type, evil: p }))),
  ];
  for (const { type, evil } of cases) {
    it(`refuses a ${type} at ${JSON.stringify(evil)} and writes nothing at all`, async () => {
      const revision = await craftRevision(repo, (entries) => {
        const file = entries.find((e) => e.path === 'ok.txt')!;
        const entry: FileEntry = type === 'file' ? { ...file, path: evil } : type === 'dir' ? { ...file, type, path: evil, size: 0 } : { ...file, type, path: evil, size: 0, target: '/etc/passwd' };
        if (type !== 'file') {
          delete entry.range;
          delete entry.hash;
        }
        return [...entries, entry];
      });
      const { target, parent } = await targetIn(repo);
      await expect(restore({ ...target.open, revision, overwrite: true })).rejects.toMatchObject({ code: 'CORRUPT' });
      expect(fs.readdirSync(parent)).toEqual(['repo']);
      expect(describeTree(target.repoDir)).toEqual({}); // not even the harmless files
      expect(fs.existsSync('/tmp/dbk-evil')).toBe(false);
      expect(fs.existsSync('/tmp/dbk-absolute-evil')).toBe(false);
    });
  }

  it('refuses a revision with a file inside what it also holds as a symlink (which could lead the write elsewhere)', async () => {
    const outside = tempDir('dbk-outside-');
    const revision = await craftRevision(repo, (entries) => {
      const sub = entries.find((e) => e.path === 'sub')!;
      const link: FileEntry = { ...sub, type: 'symlink', target: outside };
      // the symlink `sub` where the folder was, and the file `sub/x.txt` still inside it
      return entries.map((e) => (e === sub ? link : e));
    });
    for (const overwrite of [false, true]) {
      const { target, parent } = await targetIn(repo);
      await expect(restore({ ...target.open, revision, overwrite })).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining('"sub/x.txt" inside "sub"') });
      expect(fs.readdirSync(parent)).toEqual(['repo']);
      expect(describeTree(target.repoDir)).toEqual({});
    }
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('still restores the honest revision', async () => {
    const { target } = await targetIn(repo);
    await restore({ ...target.open, revision: 1 });
    expect(fs.readFileSync(path.join(target.repoDir, 'sub/x.txt'), 'utf8')).toBe('also harmless\n');
  });

  it('does not write through a symlinked parent folder: reports what is inside it as not restored, or with overwrite replaces the link', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a/file', 'inside\n');
    put(repo.repoDir, 'a/b/deeper', 'inside too\n');
    await backup(repo.open);
    const outside = tempDir('dbk-outside-');
    const expected = describeTree(repo.repoDir);
    for (const [parent, patterns] of [
      ['a', undefined],
      ['a/b', ['a/b/**']],
    ] as const) {
      const { target } = await targetIn(repo);
      fs.mkdirSync(path.join(target.repoDir, path.dirname(parent)), { recursive: true });
      fs.symlinkSync(outside, path.join(target.repoDir, parent));
      const options = { ...target.open, revision: 1, ...(patterns ? { patterns: [...patterns] } : {}) };
      const refused = await restore(options);
      expect(refused.failed.length).toBeGreaterThan(0);
      for (const f of refused.failed) expect(f.reason).toMatch(/in the way of a folder/);
      expect(fs.readlinkSync(path.join(target.repoDir, parent))).toBe(outside);
      expect(fs.readdirSync(outside)).toEqual([]);

      const r = await restore({ ...options, overwrite: true });
      expect(r.broken).toEqual([]);
      expect(fs.lstatSync(path.join(target.repoDir, parent)).isDirectory()).toBe(true);
      expect(fs.readdirSync(outside)).toEqual([]);
      const restored = describeTree(target.repoDir);
      for (const p of Object.keys(restored)) if (restored[p]!.type === 'file') expect(restored[p]).toEqual(expected[p]);
    }
  });

  /** A revision holding file `f`, a restore target, and a file outside that must never change. */
  async function fileAndVictim(): Promise<{ target: TestRepo; outside: string }> {
    const repo = await makeRepo();
    put(repo.repoDir, 'f', 'restored content\n');
    await backup(repo.open);
    const outside = path.join(tempDir('dbk-outside-'), 'victim');
    fs.writeFileSync(outside, 'must survive\n');
    return { target: (await targetIn(repo)).target, outside };
  }

  it('replaces a symlink standing where a file goes, never writing through it', async () => {
    const { target, outside } = await fileAndVictim();
    fs.symlinkSync(outside, path.join(target.repoDir, 'f'));
    const kept = await restore({ ...target.open, revision: 1 });
    expect(kept.keptFiles).toEqual(['f']);
    expect(fs.readFileSync(outside, 'utf8')).toBe('must survive\n');

    const replaced = await restore({ ...target.open, revision: 1, overwrite: true });
    expect(replaced.restoredFiles).toBe(1);
    expect(fs.lstatSync(path.join(target.repoDir, 'f')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(target.repoDir, 'f'), 'utf8')).toBe('restored content\n');
    expect(fs.readFileSync(outside, 'utf8')).toBe('must survive\n');
  });

  it('does not follow symlinks planted under the old temporary-file name', async () => {
    const { target, outside } = await fileAndVictim();
    fs.symlinkSync(outside, path.join(target.repoDir, 'f.dbk-restore'));
    await restore({ ...target.open, revision: 1 });
    expect(fs.readFileSync(path.join(target.repoDir, 'f'), 'utf8')).toBe('restored content\n');
    expect(fs.readFileSync(outside, 'utf8')).toBe('must survive\n');
  });

  it('restores symlinks as links, whatever they point at, without following them', async () => {
    const repo = await makeRepo();
    const outside = tempDir('dbk-outside-');
    fs.symlinkSync(outside, path.join(repo.repoDir, 'escape'));
    put(repo.repoDir, 'z-after-link.txt', 'written after the link\n');
    await backup(repo.open);
    const { target } = await targetIn(repo);
    await restore({ ...target.open, revision: 1 });
    expect(fs.readlinkSync(path.join(target.repoDir, 'escape'))).toBe(outside);
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});
