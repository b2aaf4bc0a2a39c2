// dbk end to end on an odb:// storage served by the Graph emulator: backup and restore byte for
// byte, with batched listing on, through a throttling storm, dropped connections and an access
// token that expires in the middle of a backup.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { init } from '../../src/commands/init.js';
import { list } from '../../src/commands/list.js';
import { prune } from '../../src/commands/prune.js';
import { restore } from '../../src/commands/restore.js';
import { asking, describeTree, KiB, PASSWORD, put, seededBytes, stampMtimes } from '../support/engine.js';
import { GraphEmulator } from '../support/graph-emulator/server.js';
import { odbSettings } from '../support/odb-storage.js';
import { backupTwiceAndRestore, copyRoundTrip } from '../support/round-trips.js';
import { tempDir } from '../support/tmp.js';

const MiB = 1024 * KiB;

describe('dbk over OneDrive (Graph emulator)', () => {
  let emu: GraphEmulator;
  let stores = 0;
  const envKeys: string[] = [];
  let odbEnvSettings: Record<string, string> = {};

  beforeAll(async () => {
    emu = await GraphEmulator.start({ auth: 'issued' });
    // the 'default' storage's keys; engine.ts cleared DBK_* from the environment on import
    const settings = { ...odbSettings(emu, tempDir('dbk-odb-e2e-')), odb_max_batch_requests: 'max', odb_simple_upload_limit: String(100 * KiB) };
    odbEnvSettings = settings;
    for (const [key, value] of Object.entries(settings)) {
      envKeys.push(`DBK_${key.toUpperCase()}`);
      process.env[`DBK_${key.toUpperCase()}`] = value;
    }
  });
  afterAll(async () => {
    for (const key of envKeys) delete process.env[key];
    await emu?.close();
  });
  beforeEach(() => {
    emu.faults.resetCounters();
    emu.faults.onRequest = undefined;
    Object.assign(emu.knobs, { throttleEveryNth: 0, innerThrottleEveryNth: 0, dropEveryNth: 0, dropKinds: [] });
  });

  /** A repository holding `build`'s tree, initialised on a new odb:// storage, and a second one joined to it. */
  async function setup(build: (root: string) => void) {
    const url = `odb://dbk/e2e-${stores++}`;
    const join = async (repoDir: string) => {
      await init({ repoDir, snapshotId: 'e2e', storageUrl: url, encrypt: true, chunkSize: 64 * KiB, kdfLogN: 10, askPassword: asking(PASSWORD) });
      return { repoDir, askPassword: asking(PASSWORD), threads: 4 };
    };
    const source = tempDir('dbk-odb-source-');
    build(source);
    stampMtimes(source);
    return { url, source, repo: await join(source), restored: await join(tempDir('dbk-odb-restored-')) };
  }

  const tree = (seed: string) => (root: string) => {
    put(root, 'big.bin', seededBytes(3 * MiB, `${seed}-big`));
    for (let i = 0; i < 20; i++) put(root, `small/${i}.txt`, `file ${i} of ${seed}\n`.repeat(i * 50));
    put(root, 'notes/héllo wörld.txt', 'unicode name\n');
    put(root, 'notes/empty', '');
  };

  it('backs up and restores byte for byte, and a second backup uploads only what changed', async () => {
    const { url, source, repo, restored } = await setup(tree('plain'));
    await backupTwiceAndRestore({ source, repo, restored }, () => {
      expect(emu.drive.resolve(emu.drive.root, ['dbk', url.slice('odb://dbk/'.length), 'chunks'])?.children?.size).toBeGreaterThan(10);
    });
  });

  it('backs up and restores through a throttling storm (every 3rd request 429 Retry-After 0.2, inner batch 429s)', async () => {
    const { source, repo, restored } = await setup(tree('storm'));
    Object.assign(emu.knobs, { throttleEveryNth: 3, throttleRetryAfter: '0.2', innerThrottleEveryNth: 3, innerThrottleRetryAfter: '0.2' });
    expect((await backup(repo)).revision).toBe(1);
    const checked = await check({ ...repo, all: true, chunks: true });
    expect(checked.ok).toBe(true);
    await restore({ ...restored, revision: 1 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
    expect(emu.counters.throttled).toBeGreaterThan(20);
  }, 120_000);

  it('check passes, prune removes a revision and its own chunks, and what is left still checks and restores', async () => {
    const { source, repo, restored } = await setup(tree('prune'));
    await backup(repo);
    fs.rmSync(path.join(source, 'big.bin'));
    put(source, 'other.bin', seededBytes(1 * MiB, 'prune-other'));
    await backup(repo);
    expect((await check({ ...repo, all: true })).ok).toBe(true);
    await prune({ ...repo, revisions: [1], exclusive: true });
    expect((await list(repo)).map((r) => r.revision.revision)).toEqual([2]);
    expect((await check({ ...repo, all: true, chunks: true })).ok).toBe(true);
    await restore({ ...restored, revision: 2 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  }, 120_000);

  it('rides out dropped connections on uploads, answered or not, and an access token expiring mid-backup', async () => {
    const { source, repo, restored } = await setup(tree('drops'));
    Object.assign(emu.knobs, { dropEveryNth: 5, dropKinds: ['upload', 'uploadFragment', 'createSession'], dropPhase: 'after' });
    emu.faults.onRequest = (_kind, c) => {
      if (c.requests === 40) emu.auth.expireAccessTokens();
      if (c.requests === 60) emu.knobs.dropPhase = 'before';
    };
    expect((await backup(repo)).revision).toBe(1);
    expect(emu.counters.dropped).toBeGreaterThan(3);
    expect(emu.counters.unauthorized).toBeGreaterThan(0);
    emu.knobs.dropEveryNth = 0;
    await restore({ ...restored, revision: 1 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  }, 120_000);

  it('add -copy and copy from a local storage onto OneDrive: it restores from there byte for byte, and a rerun sends nothing', async () => {
    const r = await copyRoundTrip(`odb://dbk/e2e-copy-${stores++}`, odbEnvSettings);
    expect(r.restored).toEqual(r.source);
    expect(r.chunksSent).toBeGreaterThan(10);
    expect(r.rerunSent).toBe(0);
  }, 120_000);
});
