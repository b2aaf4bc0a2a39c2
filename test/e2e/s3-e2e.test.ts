// dbk end to end on an S3 storage served by a real S3 server (moto_server) on 127.0.0.1: backup
// and restore byte for byte, check, prune in both steps, dropped connections, and a backup killed
// with SIGKILL (a real process) half-way, after which a rerun completes and restores byte for byte.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { init } from '../../src/commands/init.js';
import { list } from '../../src/commands/list.js';
import { prune } from '../../src/commands/prune.js';
import { restore } from '../../src/commands/restore.js';
import { asking, describeTree, KiB, PASSWORD, put, seededBytes, stampMtimes } from '../support/engine.js';
import { MOTO_KEYS, type Moto, motoUnavailable, startMoto } from '../support/moto.js';
import { backupTwiceAndRestore, copyRoundTrip } from '../support/round-trips.js';
import { tempDir } from '../support/tmp.js';

const MiB = 1024 * KiB;
const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const unavailable = motoUnavailable();

describe.skipIf(unavailable)('dbk over S3 (moto_server)', () => {
  let moto: Moto;
  /** the 'default' storage's keys, as a user sets them */
  const env: Record<string, string> = Object.fromEntries(Object.entries(MOTO_KEYS).map(([k, v]) => [`DBK_${k.toUpperCase()}`, v]));
  beforeAll(async () => {
    moto = await startMoto();
    Object.assign(process.env, env);
  }, 60_000);
  afterAll(async () => {
    for (const key of Object.keys(env)) delete process.env[key];
    await moto?.close();
  });

  /** A repository holding `build`'s tree, initialised on a new bucket, and a second one joined to it. */
  async function setup(build: (root: string) => void) {
    const bucket = await moto.newBucket();
    const url = `s3+http://${moto.endpoint.slice('http://'.length)}/${bucket}/dbk`;
    const join = async (repoDir: string) => {
      await init({ repoDir, snapshotId: 'e2e', storageUrl: url, encrypt: true, chunkSize: 64 * KiB, kdfLogN: 10, askPassword: asking(PASSWORD) });
      return { repoDir, askPassword: asking(PASSWORD), threads: 4 };
    };
    const source = tempDir('dbk-s3-source-');
    build(source);
    stampMtimes(source);
    return { bucket, source, repo: await join(source), restored: await join(tempDir('dbk-s3-restored-')) };
  }

  const tree =
    (seed: string, bigFiles = 1) =>
    (root: string) => {
      for (let i = 0; i < bigFiles; i++) put(root, `big/${i}.bin`, seededBytes(3 * MiB, `${seed}-big-${i}`));
      for (let i = 0; i < 20; i++) put(root, `small/${i}.txt`, `file ${i} of ${seed}\n`.repeat(i * 50));
      put(root, 'notes/héllo wörld.txt', 'unicode name\n');
      put(root, 'notes/empty', '');
    };

  it('backs up and restores byte for byte, and a second backup uploads only what changed', async () => {
    const { bucket, source, repo, restored } = await setup(tree('plain'));
    await backupTwiceAndRestore({ source, repo, restored }, async () => {
      expect((await moto.listKeys(bucket, 'dbk/chunks/')).length).toBeGreaterThan(10);
    });
  });

  it('prunes in two steps (fossils by copy and delete, then deleted) and what is left checks and restores', async () => {
    const { bucket, source, repo, restored } = await setup(tree('prune'));
    await backup(repo);
    fs.rmSync(path.join(source, 'big'), { recursive: true });
    put(source, 'other.bin', seededBytes(1 * MiB, 'prune-other'));
    await backup(repo);
    expect((await check({ ...repo, all: true })).ok).toBe(true);
    const collected = await prune({ ...repo, revisions: [1] });
    expect(collected.execution!.fossilized).toBeGreaterThan(3);
    const fossils = async () => (await moto.listKeys(bucket, 'dbk/chunks/')).filter((k) => k.endsWith('.fsl')).length;
    expect(await fossils()).toBe(collected.execution!.fossilized);
    await backup(repo); // the id backs up again after the collection
    const deleted = await prune({ ...repo, deleteOnly: true });
    expect(deleted.execution).toMatchObject({ deletedChunks: collected.execution!.fossilized, resurrected: 0 });
    expect(await fossils()).toBe(0);
    expect((await list(repo)).map((r) => r.revision.revision)).toEqual([2, 3]);
    expect((await check({ ...repo, all: true, files: true })).ok).toBe(true);
    await restore({ ...restored, revision: 3 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  }, 120_000);

  it('rides out every connection dropped again and again during a backup', async () => {
    const { source, repo, restored } = await setup(tree('drops', 2));
    const dropping = setInterval(() => moto.dropConnections(), 150);
    try {
      expect((await backup(repo)).revision).toBe(1);
    } finally {
      clearInterval(dropping);
    }
    await restore({ ...restored, revision: 1 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  }, 120_000);

  it('a backup killed with SIGKILL half-way leaves a storage that checks; run again, it completes and restores byte for byte', async () => {
    const { bucket, source, repo, restored } = await setup(tree('kill', 8));
    const child = spawn(process.execPath, [CLI, 'backup', '-threads', '4'], { cwd: source, env: { ...process.env, DBK_PASSWORD: PASSWORD }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    for (const start = Date.now(); (await moto.listKeys(bucket, 'dbk/chunks/')).length < 150; ) {
      if (child.exitCode !== null) throw new Error(`the backup ended (${child.exitCode}) before it could be killed`);
      if (Date.now() - start > 60_000) throw new Error('the backup uploaded too little in 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    expect(await list(repo)).toEqual([]); // no revision was written
    expect((await check({ ...repo, all: true })).ok).toBe(true);
    const rerun = await dbk(source, 'backup', '-threads', '4');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((await list(repo)).map((r) => r.revision.revision)).toEqual([1]);
    await restore({ ...restored, revision: 1 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
    expect((await check({ ...repo, all: true, chunks: true })).ok).toBe(true);
  }, 180_000);

  it('add -copy and copy from a local storage onto S3: it restores from there byte for byte, and a rerun sends nothing', async () => {
    const r = await copyRoundTrip(`s3+http://${moto.endpoint.slice('http://'.length)}/${await moto.newBucket()}/copy`, MOTO_KEYS);
    expect(r.restored).toEqual(r.source);
    expect(r.chunksSent).toBeGreaterThan(10);
    expect(r.rerunSent).toBe(0);
  }, 120_000);
});

/**
 * Runs the CLI as a user would, without blocking this process: the relay in front of moto lives in
 * it (a spawnSync would stall every request the child makes).
 */
function dbk(cwd: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DBK_PASSWORD: PASSWORD }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}
