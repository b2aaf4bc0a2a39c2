// dbk end to end on an sftp:// storage served by a real OpenSSH server: backup and restore byte
// for byte, check and prune, and a server killed in the middle of a backup, after which the backup is run again
// to completion and restores byte for byte.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { init } from '../../src/commands/init.js';
import { list } from '../../src/commands/list.js';
import { prune } from '../../src/commands/prune.js';
import { restore } from '../../src/commands/restore.js';
import { DbkError } from '../../src/errors.js';
import { asking, describeTree, KiB, PASSWORD, put, seededBytes, stampMtimes } from '../support/engine.js';
import { backupTwiceAndRestore, copyRoundTrip } from '../support/round-trips.js';
import { type Sshd, sshdUnavailable, startSshd } from '../support/sshd.js';
import { tempDir } from '../support/tmp.js';

const MiB = 1024 * KiB;
const unavailable = sshdUnavailable();

describe.skipIf(unavailable)('dbk over SFTP', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
    process.env.DBK_SSH_KEY_FILE = sshd.userKey.privateKeyFile; // the 'default' storage's key
  });
  afterAll(async () => {
    delete process.env.DBK_SSH_KEY_FILE;
    await sshd?.close();
  });

  /** A repository holding `build`'s tree, initialised on a new sftp:// storage, and a second one joined to it. */
  async function setup(build: (root: string) => void) {
    const storageDir = path.join(tempDir('dbk-sftp-storage-'), 'storage');
    const url = `sftp://${sshd.user}@${sshd.host}:${sshd.port}/${storageDir}`;
    const join = async (repoDir: string) => {
      await init({ repoDir, snapshotId: 'e2e', storageUrl: url, encrypt: true, chunkSize: 64 * KiB, kdfLogN: 10, askPassword: asking(PASSWORD) });
      return { repoDir, askPassword: asking(PASSWORD), threads: 4 };
    };
    const source = tempDir('dbk-sftp-source-');
    build(source);
    return { storageDir, source, repo: await join(source), restored: await join(tempDir('dbk-sftp-restored-')) };
  }

  it('backs up and restores byte for byte, and a second backup uploads only what changed', async () => {
    const { source, repo, restored } = await setup((root) => {
      put(root, 'big.bin', seededBytes(3 * MiB, 'big'));
      put(root, 'notes/héllo wörld.txt', 'unicode name\n');
      put(root, 'notes/empty', '');
      put(root, 'bin/run.sh', '#!/bin/sh\necho hi\n', { mode: 0o755 });
      fs.symlinkSync('../notes', path.join(root, 'bin/link'));
      stampMtimes(root);
    });
    await backupTwiceAndRestore({ source, repo, restored }, () => {
      expect(fs.readFileSync(path.join(source, '.dbk', 'known_hosts'), 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    });
  });

  it('check passes, prune removes a revision and its own chunks, and what is left still checks and restores', async () => {
    const { source, repo, restored } = await setup((root) => {
      put(root, 'old.bin', seededBytes(2 * MiB, 'old'));
      put(root, 'keep.txt', 'kept\n');
    });
    await backup(repo);
    fs.rmSync(path.join(source, 'old.bin'));
    put(source, 'new.bin', seededBytes(1 * MiB, 'new'));
    await backup(repo);
    expect((await check({ ...repo, all: true })).ok).toBe(true);
    await prune({ ...repo, revisions: [1], exclusive: true });
    expect((await list(repo)).map((r) => r.revision.revision)).toEqual([2]);
    const after = await check({ ...repo, all: true });
    expect(after.ok).toBe(true);
    expect(after.findings.filter((f) => f.severity === 'error')).toEqual([]);
    await restore({ ...restored, revision: 2 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  });

  it('a backup rides out the server being killed and restarted under it; run again, it completes and restores byte for byte', async () => {
    const { storageDir, source, repo, restored } = await setup((root) => {
      for (let i = 0; i < 12; i++) put(root, `data/${i}.bin`, seededBytes(2 * MiB, `kill-${i}`));
    });
    const running = backup(repo);
    await waitFor(() => countFiles(path.join(storageDir, 'chunks')) >= 40);
    await sshd.kill();
    await new Promise((r) => setTimeout(r, 500)); // down long enough for calls to fail against a closed port
    await sshd.restart();
    expect((await running).revision).toBe(1);
    const again = await backup(repo);
    expect(again.revision).toBe(2);
    await restore({ ...restored, revision: 2 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  });

  it('a backup that fails because the server stays down loses nothing; run again after a restart, it completes', async () => {
    const { storageDir, source, repo, restored } = await setup((root) => {
      for (let i = 0; i < 8; i++) put(root, `data/${i}.bin`, seededBytes(2 * MiB, `down-${i}`));
    });
    const running = backup(repo).catch((e: unknown) => e);
    await waitFor(() => countFiles(path.join(storageDir, 'chunks')) >= 20);
    await sshd.kill();
    const failure = await running; // once the retries are spent
    expect(failure).toBeInstanceOf(DbkError);
    expect(failure).toMatchObject({ code: 'TRANSIENT' });
    await sshd.restart();
    const again = await backup(repo);
    expect(again.revision).toBe(1);
    expect(again.newChunks).toBeLessThan(again.chunks); // what the failed run uploaded was kept
    await restore({ ...restored, revision: 1 });
    expect(describeTree(restored.repoDir)).toEqual(describeTree(source));
  }, 120_000);

  it('add -copy and copy from a local storage onto SFTP: it restores from there byte for byte, and a rerun sends nothing', async () => {
    const r = await copyRoundTrip(`sftp://${sshd.user}@${sshd.host}:${sshd.port}/${path.join(tempDir('dbk-sftp-copy-'), 'storage')}`, { ssh_key_file: sshd.userKey.privateKeyFile });
    expect(r.restored).toEqual(r.source);
    expect(r.chunksSent).toBeGreaterThan(10);
    expect(r.rerunSent).toBe(0);
  }, 120_000);
});

function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
}

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
