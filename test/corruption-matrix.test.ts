// Every kind of file dbk keeps on a storage, flipped, cut short or removed, on a plain and an
// encrypted storage, met by the CLI as a user meets it: what check says (naming the file and what
// it breaks), what restore still restores (everything else, byte for byte), the exit code, and
// an error of one line, never a stack trace.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFossilRecord } from '../src/catalog/fossil-records.js';
import { BackupAnnouncement } from '../src/catalog/running-backups.js';
import { backup } from '../src/commands/backup.js';
import { prune } from '../src/commands/prune.js';
import { chunkPath } from '../src/format/ids.js';
import { revisionPath } from '../src/format/revision.js';
import { describeTree, joinRepo, makeRepo, PASSWORD, put, seededBytes, type TestRepo, withRepository } from './support/engine.js';
import { tempDir } from './support/tmp.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

type Damage = 'flip' | 'truncate' | 'remove';
const DAMAGES: Damage[] = ['flip', 'truncate', 'remove'];

/** A storage with three revisions of one id (the first two pruned, their collection pending and one completed), and an announcement. */
interface Built {
  repo: TestRepo;
  /** the tree as revision 3 holds it */
  tree: string;
  /** storage paths, relative, of one file of each kind */
  files: Record<'config' | 'dataChunk' | 'metadataChunk' | 'revision' | 'collection' | 'deletion' | 'announcement', string>;
  /** the files revision 3's data chunk holds bytes of */
  dataChunkFiles: string[];
}

async function build(encrypt: boolean): Promise<Built> {
  const repo = await makeRepo({ encrypt, chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096 });
  const write = (rel: string, data: Buffer | string) => put(repo.repoDir, rel, data);
  write('a.bin', seededBytes(20_000, 'a'));
  write('b.txt', 'first\n');
  await backup(repo.open);
  write('b.txt', 'second\n');
  write('sub/c.bin', seededBytes(9000, 'c'));
  await backup(repo.open);
  write('d.bin', seededBytes(7000, 'd'));
  await backup(repo.open);
  await prune({ ...repo.open, revisions: [1] });
  await prune({ ...repo.open, deleteOnly: true }); // completes revision 1's collection: a deletion record
  // a backup of another id, announced before the next collection is made: it waits for it
  const announced = await withRepository(repo, (r) => BackupAnnouncement.announce(r, 'elsewhere'));
  await prune({ ...repo.open, revisions: [2] }); // a collection, pending
  const tree = tempDir('dbk-tree-');
  fs.cpSync(repo.repoDir, tree, { recursive: true, filter: (p) => !p.includes(`${path.sep}.dbk`) });
  return withRepository(repo, async (r) => {
    const rev = await r.loadRevision(r.snapshotId, 3);
    const [entries, hashes] = await Promise.all([r.readFileList(rev), r.readChunkHashes(rev)]);
    const d = entries.find((e) => e.path === 'd.bin')!;
    const dataHash = hashes[d.range!.startChunk]!;
    const dataChunkFiles = entries.filter((e) => e.range && hashes.slice(e.range.startChunk, e.range.endChunk + 1).includes(dataHash)).map((e) => e.path);
    const records = fs.readdirSync(path.join(repo.storageDir, 'fossils')).sort();
    const kinds = await Promise.all(records.map(async (name) => ({ name, collection: (await readFossilRecord(r, name)).kind === 'collection' })));
    return {
      repo,
      tree,
      dataChunkFiles,
      files: {
        config: 'config',
        dataChunk: chunkPath(r.chunkId(dataHash)),
        metadataChunk: chunkPath(r.chunkId(rev.sequences.files[0]!)),
        revision: revisionPath(r.snapshotId, 3),
        collection: `fossils/${kinds.find((k) => k.collection)!.name}`,
        deletion: `fossils/${kinds.find((k) => !k.collection)!.name}`,
        announcement: `running/${announced.name}`,
      },
    };
  });
}

/** A copy of the built storage with one file damaged, and a repository of the same id on it. */
async function damaged(b: Built, file: string, how: Damage): Promise<{ dir: string; storage: string }> {
  const storage = path.join(tempDir('dbk-damaged-'), 'storage');
  fs.cpSync(b.repo.storageDir, storage, { recursive: true });
  const target = path.join(storage, ...file.split('/'));
  if (how === 'remove') fs.rmSync(target);
  else {
    const data = fs.readFileSync(target);
    fs.chmodSync(target, 0o644);
    if (how === 'flip') data[Math.floor(data.length / 2)]! ^= 0x10;
    fs.writeFileSync(target, how === 'truncate' ? data.subarray(0, Math.floor(data.length / 2)) : data);
  }
  return { dir: await clientOf(b, storage, 'dbk-client-'), storage };
}

/** A repository of the same id on a damaged storage, set up (joining needs a config) with the intact config in place for the moment. */
async function clientOf(b: Built, storage: string, prefix: string): Promise<string> {
  const dir = tempDir(prefix);
  const config = path.join(storage, 'config');
  const damagedConfig = fs.existsSync(config) ? fs.readFileSync(config) : undefined;
  fs.copyFileSync(path.join(b.repo.storageDir, 'config'), config);
  await joinRepo({ storageDir: storage, encrypted: b.repo.encrypted }, {}, dir);
  if (damagedConfig) fs.writeFileSync(config, damagedConfig);
  else fs.rmSync(config);
  return dir;
}

function dbk(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, DBK_PASSWORD: PASSWORD } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** An error a user can read: "dbk: …" and at most a hint, no stack trace. */
function expectOneLineError(err: string): void {
  expect(err).not.toMatch(/\n\s+at /);
  const lines = err
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('warning: '));
  expect(lines.length, err).toBeGreaterThanOrEqual(1);
  expect(lines.length, err).toBeLessThanOrEqual(2);
  expect(lines[0]).toMatch(/^dbk: /);
}

/** Restores revision 3 into a fresh folder of the damaged storage's client; returns the exit and what differs from the tree. */
async function restoreInto(b: Built, storage: string) {
  const dir = await clientOf(b, storage, 'dbk-restored-');
  const run = dbk(dir, 'restore', '-r', '3');
  const want = describeTree(b.tree);
  const got = describeTree(dir);
  delete got['.dbk'];
  const differing = Object.keys({ ...want, ...got }).filter((p) => want[p]?.type === 'file' && want[p]?.sha256 !== got[p]?.sha256);
  return { ...run, differing };
}

for (const encrypt of [false, true]) {
  describe(`a damaged storage file (${encrypt ? 'encrypted' : 'plain'} storage)`, () => {
    let b: Built;
    beforeAll(async () => {
      b = await build(encrypt);
    }, 120_000);

    for (const how of DAMAGES) {
      it(`a data chunk, ${how}: check names it and the file it breaks; restore restores the rest and exits 3`, async () => {
        const { dir, storage } = await damaged(b, b.files.dataChunk, how);
        const checked = dbk(dir, 'check', '-a', '-chunks');
        expect(checked.code, checked.out + checked.err).toBe(3);
        const id = b.files.dataChunk.split('/').join('').slice('chunks'.length);
        expect(checked.out).toContain(`chunk ${id}`);
        for (const f of b.dataChunkFiles) expect(checked.out).toContain(`test@3: ${f}`);
        const restored = await restoreInto(b, storage);
        expect(restored.code, restored.err).toBe(3);
        expect(restored.out).toContain(id);
        expect(restored.differing.sort()).toEqual([...b.dataChunkFiles].sort());
      });

      it(`a metadata chunk of revision 3's file list, ${how}: check names it as the revision's metadata; restore says why in one line`, async () => {
        const { dir, storage } = await damaged(b, b.files.metadataChunk, how);
        const checked = dbk(dir, 'check', '-a', '-chunks');
        expect(checked.code, checked.out + checked.err).toBe(3);
        expect(checked.out).toMatch(/test@3: holds the revision's metadata/);
        const restored = await restoreInto(b, storage);
        expect(restored.code).toBe(how === 'remove' ? 3 : 1);
        expectOneLineError(restored.err);
        expect(restored.err).toContain(b.files.metadataChunk.split('/').join('').slice('chunks'.length));
      });

      it(`the revision file, ${how}: check names the revision${how === 'remove' ? ' (gone, as if pruned)' : ''}; restore says why in one line`, async () => {
        const { dir, storage } = await damaged(b, b.files.revision, how);
        const checked = dbk(dir, 'check', '-a');
        if (how === 'remove') {
          expect(checked.code).toBe(0); // a revision file removed is a revision deleted: nothing refers to it
        } else {
          expect(checked.code, checked.out + checked.err).toBe(3);
          expect(checked.out).toMatch(/test revision 3: cannot be read/);
        }
        const restored = await restoreInto(b, storage);
        expect(restored.code).toBe(1);
        expectOneLineError(restored.err);
        expect(restored.err).toMatch(how === 'remove' ? /revision 3 of 'test' does not exist/ : /snapshots\/test\/3/);
      });

      it(`the config, ${how}: every command stops with one line saying so, and nothing is changed`, async () => {
        const { dir, storage } = await damaged(b, b.files.config, how);
        const before = fs.readdirSync(storage, { recursive: true }).sort();
        for (const args of [['check', '-a'], ['restore', '-r', '3'], ['backup'], ['prune', '-exhaustive']]) {
          const run = dbk(dir, ...args);
          expect(run.code, `${args.join(' ')}: ${run.err}`).toBe(1);
          expectOneLineError(run.err);
          expect(run.err).toMatch(how === 'remove' ? /config is missing/ : encrypt ? /wrong password for this storage \(or its config is damaged\)|config/ : /config/);
        }
        expect(fs.readdirSync(storage, { recursive: true }).sort()).toEqual(before);
      });

      for (const record of ['collection', 'deletion'] as const) {
        it(`a ${record} record, ${how}: check ${how === 'remove' ? 'passes' : 'warns, naming it'}; prune passes it over; every revision restores`, async () => {
          const { dir, storage } = await damaged(b, b.files[record], how);
          const checked = dbk(dir, 'check', '-a');
          expect(checked.code, checked.out + checked.err).toBe(0);
          if (how !== 'remove') expect(checked.out).toContain(`warning: ${b.files[record]}`);
          const pruned = dbk(dir, 'prune', '-exhaustive');
          expect(pruned.code, pruned.err).toBe(0);
          expect(pruned.err).not.toMatch(/\n\s+at /);
          expect(dbk(dir, 'check', '-a', '-files').code).toBe(0);
          expect((await restoreInto(b, storage)).differing).toEqual([]);
        });
      }

      it(`an announcement, ${how}: prune ${how === 'remove' ? 'no longer waits for it' : 'counts it as a backup still running, and says so'}`, async () => {
        const { dir } = await damaged(b, b.files.announcement, how);
        const pruned = dbk(dir, 'prune', '-delete-only');
        expect(pruned.code, pruned.err).toBe(0);
        if (how === 'remove') expect(pruned.out).toMatch(/delete \d+ fossils/);
        else {
          expect(pruned.out).toMatch(/waiting for running\/[0-9a-f]{16} \(unreadable\)/);
          expect(pruned.err).toContain(b.files.announcement);
        }
      });
    }
  });
}
