// dbk add -copy and dbk copy between local storages: revisions and exactly the missing chunks go
// across (re-encoded under the copy's own key, or byte for byte when bit-identical), the copy
// restores byte for byte, a rerun sends nothing, a copy killed half-way (a real process) leaves
// whole revisions only and a rerun completes, and prune works on the copy afterwards.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.js';
import { LocalBackend } from '../../backends/local/local.js';
import { registerScheme } from '../../backends/registry.js';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { copy } from '../../src/commands/copy.js';
import { add, init } from '../../src/commands/init.js';
import { list } from '../../src/commands/list.js';
import { prune } from '../../src/commands/prune.js';
import { restore } from '../../src/commands/restore.js';
import { chunkFiles, describeTree, KiB, makeRepo, PASSWORD, put, seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const COPY_PASSWORD = 'the copy has its own password';
/** answers each storage's prompt with its password (only the new storage's is asked again) */
const passwords = async (prompt: string) => (prompt.includes("'copy'") || prompt.startsWith('Re-enter') ? COPY_PASSWORD : PASSWORD);

/** A repository backing up to an encrypted local storage, with a second storage 'copy' added by add -copy. */
async function twoStorages(o: { bitIdentical?: boolean; encryptCopy?: boolean } = {}) {
  const repo = await makeRepo({ encrypt: true });
  const copyDir = path.join(tempDir('dbk-copy-'), 'storage');
  await add({
    repoDir: repo.repoDir,
    storageName: 'copy',
    snapshotId: 'test',
    storageUrl: copyDir,
    kdfLogN: 10,
    ...(o.encryptCopy ? { encrypt: true } : {}),
    copyOf: { from: 'default', bitIdentical: o.bitIdentical ?? false },
    askPassword: passwords,
  });
  const open = { repoDir: repo.repoDir, askPassword: passwords, threads: 2 };
  /** a fresh repository on the copy, restoring revision `revision` byte for byte */
  const restoredFromCopy = async (revision: number) => {
    const dir = tempDir('dbk-copy-restored-');
    await init({ repoDir: dir, snapshotId: 'test', storageUrl: copyDir, askPassword: async () => COPY_PASSWORD });
    await restore({ repoDir: dir, askPassword: async () => COPY_PASSWORD, revision });
    return dir;
  };
  return { repo, copyDir, open, restoredFromCopy };
}

const fill = (root: string, seed: string) => {
  for (let i = 0; i < 4; i++) put(root, `data/${i}.bin`, seededBytes(200 * KiB, `${seed}-${i}`));
  put(root, 'notes.txt', `notes of ${seed}\n`);
};

describe('dbk copy', () => {
  it('copies revisions and the chunks the copy lacks, re-encoded under its own key; the copy restores byte for byte and a rerun sends nothing', async () => {
    const { repo, copyDir, open, restoredFromCopy } = await twoStorages({ encryptCopy: true });
    fill(repo.repoDir, 'one');
    await backup(repo.open);
    put(repo.repoDir, 'later.txt', 'added later\n');
    await backup(repo.open);
    const first = await copy({ ...open, to: 'copy' });
    expect(first).toMatchObject({ copied: ['test/1', 'test/2'], present: [], bitIdentical: false });
    expect(first.chunks).toBe(chunkFiles(repo.storageDir).length);
    // the same chunk ids, other bytes: sealed with the copy's own key
    const names = (dir: string) =>
      chunkFiles(dir)
        .map((f) => path.relative(dir, f))
        .sort();
    expect(names(copyDir)).toEqual(names(repo.storageDir));
    const some = names(copyDir)[0]!;
    expect(fs.readFileSync(path.join(copyDir, some)).equals(fs.readFileSync(path.join(repo.storageDir, some)))).toBe(false);
    expect(describeTree(await restoredFromCopy(2))).toEqual(describeTree(repo.repoDir));

    const again = await copy({ ...open, to: 'copy' });
    expect(again).toMatchObject({ copied: [], present: ['test/1', 'test/2'], chunks: 0 });
    put(repo.repoDir, 'third.bin', seededBytes(100 * KiB, 'third'));
    await backup(repo.open);
    const third = await copy({ ...open, to: 'copy', snapshotId: 'test', revisions: [3] });
    expect(third.copied).toEqual(['test/3']);
    expect(third.chunks).toBeLessThan(10); // third.bin and the new metadata
    expect((await check({ ...open, storageName: 'copy', all: true, files: true })).ok).toBe(true);
  });

  it('-bit-identical copies chunk files as they are stored', async () => {
    const { repo, copyDir, open, restoredFromCopy } = await twoStorages({ bitIdentical: true });
    fill(repo.repoDir, 'bits');
    await backup(repo.open);
    expect((await copy({ ...open, to: 'copy' })).bitIdentical).toBe(true);
    for (const f of chunkFiles(repo.storageDir)) expect(fs.readFileSync(path.join(copyDir, path.relative(repo.storageDir, f))).equals(fs.readFileSync(f))).toBe(true);
    expect(describeTree(await restoredFromCopy(1))).toEqual(describeTree(repo.repoDir));
  });

  it('refuses a storage not made by add -copy, and a revision number the copy holds with other content', async () => {
    const { repo, open } = await twoStorages();
    const stranger = path.join(tempDir('dbk-copy-'), 'storage');
    await add({ repoDir: repo.repoDir, storageName: 'stranger', snapshotId: 'test', storageUrl: stranger, kdfLogN: 10 });
    put(repo.repoDir, 'a.txt', 'a\n');
    await backup(repo.open);
    await expect(copy({ ...open, to: 'stranger' })).rejects.toMatchObject({ code: 'CONFIG' });
    // a backup straight onto the copy takes revision number 1 first
    await backup({ ...open, storageName: 'copy' });
    put(repo.repoDir, 'b.txt', 'b\n');
    await expect(copy({ ...open, to: 'copy' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/revision 1 of 'test' on 'copy' is another backup/) });
  });

  it('a copy killed with SIGKILL half-way leaves only whole revisions; run again it completes, and prune works on the copy', async () => {
    const { repo, open, restoredFromCopy } = await twoStorages();
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 6; i++) put(repo.repoDir, `r${r}/${i}.bin`, seededBytes(300 * KiB, `kill-${r}-${i}`));
      await backup(repo.open);
    }
    const env = { ...process.env, DBK_PASSWORD: PASSWORD, DBK_COPY_PASSWORD: COPY_PASSWORD };
    const child = spawn(process.execPath, [CLI, 'copy', '-to', 'copy', '-threads', '1'], { cwd: repo.repoDir, env, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const copyList = () => list({ ...open, storageName: 'copy' }).then((l) => l.map((x) => x.revision.revision));
    for (const start = Date.now(); (await copyList()).length < 2; ) {
      if (child.exitCode !== null) throw new Error(`the copy ended (${child.exitCode}) before it could be killed`);
      if (Date.now() - start > 60_000) throw new Error('the copy did not get far in 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await exited;
    const before = await copyList();
    expect(before.length).toBeLessThan(4);
    expect((await check({ ...open, storageName: 'copy', all: true })).ok).toBe(true); // no revision lacks a chunk
    const rest = await copy({ ...open, to: 'copy' });
    expect(rest.present.length).toBe(before.length);
    expect(await copyList()).toEqual([1, 2, 3, 4]);
    await prune({ ...open, storageName: 'copy', revisions: [1, 2], exclusive: true });
    expect((await check({ ...open, storageName: 'copy', all: true, files: true })).ok).toBe(true);
    expect(describeTree(await restoredFromCopy(4))).toEqual(describeTree(repo.repoDir));
  }, 120_000);

  it('a copy whose announcement was removed while it ran lists the destination again before trusting it', async () => {
    // a local storage whose writes can be held up, to act between the copy's steps
    const hooks: { beforeChunk?: () => Promise<void>; beforeRevision?: (p: string) => Promise<void> } = {};
    registerScheme('hooked', async (url) => {
      const inner = new LocalBackend(url.slice('hooked://'.length), { fsync: false });
      const hooked: Backend = Object.create(inner);
      hooked.write = async (p, d) => {
        const before = hooks.beforeChunk;
        if (before && p.startsWith('chunks/')) {
          hooks.beforeChunk = undefined;
          await before();
        }
        if (p.startsWith('snapshots/')) await hooks.beforeRevision?.(p);
        return inner.write(p, d);
      };
      return hooked;
    });
    const repo = await makeRepo({ encrypt: true });
    const dst = path.join(tempDir('dbk-copy-'), 'storage');
    const same = async () => PASSWORD;
    await add({ repoDir: repo.repoDir, storageName: 'copy', snapshotId: 'test', storageUrl: `hooked://${dst}`, kdfLogN: 10, copyOf: { from: 'default' }, askPassword: same });
    const open = { repoDir: repo.repoDir, askPassword: same, threads: 2 };
    const a = seededBytes(300 * KiB, 'A');
    const rm = (rel: string) => fs.rmSync(path.join(repo.repoDir, rel));
    put(repo.repoDir, 'a.bin', a);
    await backup(repo.open); // 1: A
    rm('a.bin');
    put(repo.repoDir, 'b.bin', seededBytes(300 * KiB, 'B'));
    await backup(repo.open); // 2: B
    put(repo.repoDir, 'c.bin', seededBytes(300 * KiB, 'C'));
    await backup(repo.open); // 3: B C
    rm('c.bin');
    rm('b.bin');
    put(repo.repoDir, 'a.bin', a);
    await backup(repo.open); // 4: A again
    await copy({ ...open, to: 'copy', snapshotId: 'test', revisions: [1, 2] });
    hooks.beforeChunk = async () => {
      // the copy has listed A's chunks on the destination; an admin removes its announcement (it
      // held up prune), and a prune collects revision 1, the only one there using A
      for (const f of fs.readdirSync(path.join(dst, 'running'))) fs.rmSync(path.join(dst, 'running', f));
      expect((await prune({ ...open, storageName: 'copy', revisions: [1] })).execution!.fossilized).toBeGreaterThan(0);
    };
    hooks.beforeRevision = async (p) => {
      if (p.endsWith('/3')) await prune({ ...open, storageName: 'copy', deleteOnly: true }); // A's fossils go: nobody was announced
    };
    const r = await copy({ ...open, to: 'copy' });
    expect(r.copied).toEqual(['test/3', 'test/4']); // 1 was there when looked at
    expect((await check({ ...open, storageName: 'copy', all: true, files: true })).ok).toBe(true);
  }, 120_000);
});
