// The round trips every remote backend's end-to-end tests make: two backups onto the storage,
// each restored byte for byte; and a copy onto it from a local storage (add -copy, then copy),
// restored from there byte for byte.

import { expect } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { copy } from '../../src/commands/copy.js';
import { add, init } from '../../src/commands/init.js';
import { restore } from '../../src/commands/restore.js';
import { settingEnvNames } from '../../src/settings.js';
import { describeTree, KiB, makeRepo, PASSWORD, put, seededBytes, type TreeEntry } from './engine.js';

interface RepoAndRestored {
  source: string;
  repo: { repoDir: string; askPassword: (prompt: string) => Promise<string>; threads: number };
  restored: { repoDir: string; askPassword: (prompt: string) => Promise<string>; threads: number };
}

/**
 * Backs up `source`, restores it into `restored` and compares; adds a file, backs up again (sending
 * little), restores over the first and compares. `afterFirst` looks at the storage in between.
 */
export async function backupTwiceAndRestore({ source, repo, restored }: RepoAndRestored, afterFirst: () => Promise<void> | void = () => {}): Promise<void> {
  const first = await backup(repo);
  if (first.revision !== 1) throw new Error(`the first backup wrote revision ${first.revision}`);
  await afterFirst();
  await restore({ ...restored, revision: 1 });
  expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  put(source, 'notes/new.txt', 'added\n');
  const second = await backup(repo);
  expect(second.revision).toBe(2);
  expect(second.newBytes).toBeLessThan(1024 * KiB);
  await restore({ ...restored, revision: 2, overwrite: true });
  expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
}

import { tempDir } from './tmp.js';

const COPY_PASSWORD = 'the copy has its own password';
const passwords = async (prompt: string) => (prompt.includes("'copy'") || prompt.startsWith('Re-enter') ? COPY_PASSWORD : PASSWORD);

export interface CopyRoundTrip {
  source: Record<string, TreeEntry>;
  restored: Record<string, TreeEntry>;
  chunksSent: number;
  rerunSent: number;
}

/**
 * A local repository backs up twice, adds `url` with add -copy (its settings given for the storage
 * named 'copy'), copies both revisions there, and a fresh repository on `url` (the 'default'
 * storage, whose settings the caller has set) restores the newest.
 */
export async function copyRoundTrip(url: string, settings: Record<string, string>): Promise<CopyRoundTrip> {
  const names: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const name = settingEnvNames('copy', key)[0]!;
    names.push(name);
    process.env[name] = value;
  }
  try {
    const repo = await makeRepo({ encrypt: true });
    for (let i = 0; i < 3; i++) put(repo.repoDir, `data/${i}.bin`, seededBytes(400 * KiB, `copy-${i}`));
    put(repo.repoDir, 'notes/héllo.txt', 'unicode\n');
    await backup(repo.open);
    put(repo.repoDir, 'notes/later.txt', 'later\n');
    await backup(repo.open);
    await add({ repoDir: repo.repoDir, storageName: 'copy', snapshotId: 'test', storageUrl: url, encrypt: true, kdfLogN: 10, copyOf: { from: 'default' }, askPassword: passwords });
    const open = { repoDir: repo.repoDir, askPassword: passwords, threads: 4 };
    const first = await copy({ ...open, to: 'copy' });
    const rerun = await copy({ ...open, to: 'copy' });
    if (!(await check({ ...open, storageName: 'copy', all: true, files: true })).ok) throw new Error('the copy does not check');
    const dir = tempDir('dbk-copy-restored-');
    await init({ repoDir: dir, snapshotId: 'test', storageUrl: url, askPassword: async () => COPY_PASSWORD });
    await restore({ repoDir: dir, askPassword: async () => COPY_PASSWORD, revision: 2 });
    return { source: describeTree(repo.repoDir), restored: describeTree(dir), chunksSent: first.chunks, rerunSent: rerun.chunks };
  } finally {
    for (const name of names) delete process.env[name];
  }
}
