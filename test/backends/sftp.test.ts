// The SFTP backend against a real OpenSSH server on loopback: the conformance suite, host key
// pinning, the ways of logging in, and recovery from a server killed in the middle of an upload.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/** Every folder the backend asked the server to flush, and whether the server did. */
const flushedFolders: [string, boolean][] = [];
vi.mock('../../backends/sftp/sftp-calls.js', async (original) => {
  const calls = await original<typeof import('../../backends/sftp/sftp-calls.js')>();
  return {
    ...calls,
    syncFolder: async (...args: Parameters<typeof calls.syncFolder>) => {
      const done = await calls.syncFolder(...args);
      flushedFolders.push([args[1], done]);
      return done;
    },
  };
});

import type { Backend, BackendContext } from '../../backends/backend.js';
import { openBackend } from '../../backends/registry.js';
import { parseSftpUrl, sftpConfig } from '../../backends/sftp/config.js';
import { SftpBackend } from '../../backends/sftp/sftp.js';
import { DbkError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { makeSettings } from '../../src/settings.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { catchError } from '../support/engine.js';
import { type Sshd, sshdUnavailable, startSshd } from '../support/sshd.js';
import { tempDir } from '../support/tmp.js';

describe('sftp URLs', () => {
  it('parses user, host, port and relative or absolute paths', () => {
    expect(parseSftpUrl('sftp://alice@example.org/backups/dbk')).toEqual({ host: 'example.org', port: 22, user: 'alice', root: 'backups/dbk' });
    expect(parseSftpUrl('sftp://alice@example.org:2222//srv/dbk/')).toEqual({ host: 'example.org', port: 2222, user: 'alice', root: '/srv/dbk' });
    expect(parseSftpUrl('sftp://bob@[::1]:22/')).toEqual({ host: '::1', port: 22, user: 'bob', root: '' });
    expect(parseSftpUrl('sftp://b%40c@h//my%20backups')).toMatchObject({ user: 'b@c', root: '/my backups' });
  });

  it('refuses a password in the URL without repeating it', () => {
    for (const url of ['sftp://alice:s3cret@example.org/x', 'sftp://alice:s3cret@exa mple.org/x']) {
      const e = catchError(() => parseSftpUrl(url));
      expect(e).toMatchObject({ code: 'USAGE' });
      expect((e as Error).message).not.toContain('s3cret');
    }
  });

  it('asks for credentials by their environment names when none are given', () => {
    const e = catchError(() => sftpConfig('sftp://a@h/x', makeSettings('offsite', {}, {}), {}));
    expect(e).toMatchObject({ code: 'CONFIG' });
    expect((e as DbkError).hint).toContain('DBK_OFFSITE_SSH_KEY_FILE');
  });
});

const unavailable = sshdUnavailable();

describe.skipIf(unavailable)('sftp against OpenSSH', () => {
  let sshd: Sshd;
  const work = tempDir('dbk-sftp-test-');
  let n = 0;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });

  /** A fresh storage folder inside the server's folder and a fresh repository for known_hosts. */
  const fresh = async () => {
    const id = `t${n++}`;
    const root = path.join(work, id, 'storage');
    const repoDir = path.join(work, id, 'repo');
    await fs.mkdir(repoDir, { recursive: true });
    return { root, repoDir, url: (port = sshd.port) => `sftp://${sshd.user}@${sshd.host}:${port}/${root}` };
  };
  const keySettings = (extra: Record<string, string> = {}) => makeSettings('offsite', { ssh_key_file: sshd.userKey.privateKeyFile, ...extra }, {});
  const open = (url: string, repoDir: string, settings = keySettings(), threads = 8) => SftpBackend.open(sftpConfig(url, settings, {}), { threads, repoDir, log: silentLogger });

  describeBackendConformance(
    'sftp',
    async () => {
      const { root, repoDir, url } = await fresh();
      return {
        backend: await open(url(), repoDir),
        async putRaw(p, data) {
          const file = path.join(root, ...p.split('/'));
          await fs.mkdir(path.dirname(file), { recursive: true });
          await fs.writeFile(file, data);
        },
        interrupt: () => sshd.restart(),
        openReadOnly: () => open(url(sshd.readOnlyPort), repoDir),
      };
    },
    { timeout: 60_000 },
  );

  it('pins the host key on first use and refuses a changed one', async () => {
    const { repoDir, url } = await fresh();
    const knownHosts = path.join(repoDir, '.dbk', 'known_hosts');
    await (await open(url(), repoDir)).close();
    const pinned = await fs.readFile(knownHosts, 'utf8');
    expect(pinned).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    await (await open(url(), repoDir)).close(); // the pinned key is accepted again

    const other = path.join(work, `other_host_key_${n}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherKey = (await fs.readFile(`${other}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    await fs.writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${otherKey}\n`);
    const e = await open(url(), repoDir).then(
      (b) => b.close(),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DbkError);
    expect(e).toMatchObject({ code: 'HOST_KEY', temporary: false });
    expect((e as DbkError).message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect((e as DbkError).hint).toContain(knownHosts);
    expect(await fs.readFile(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${otherKey}\n`); // nothing re-pinned
  });

  it('logs in with a passphrase-protected key, and says what is missing without one', async () => {
    const { repoDir, url } = await fresh();
    const key = sshd.newUserKey('correct horse');
    const b = await open(url(), repoDir, makeSettings('offsite', { ssh_key_file: key.privateKeyFile, ssh_passphrase: 'correct horse' }, {}));
    await b.write('f', Buffer.from('x'));
    await b.close();
    const e = catchError(() => sftpConfig(url(), makeSettings('offsite', { ssh_key_file: key.privateKeyFile }, {}), {}));
    expect(e).toMatchObject({ code: 'CONFIG' });
    expect((e as DbkError).hint).toContain('DBK_OFFSITE_SSH_PASSPHRASE');
  });

  it('logs in through ssh-agent', async () => {
    const { repoDir, url } = await fresh();
    const socket = path.join(work, `agent-${n}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor(() =>
        fs.stat(socket).then(
          () => true,
          () => false,
        ),
      );
      execFileSync('ssh-add', ['-q', sshd.userKey.privateKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
      const config = sftpConfig(url(), makeSettings('offsite', {}, {}), { SSH_AUTH_SOCK: socket });
      const b = await SftpBackend.open(config, { threads: 1, repoDir, log: silentLogger });
      await b.write('f', Buffer.from('agent'));
      expect((await b.read('f')).toString()).toBe('agent');
      await b.close();
    } finally {
      agent.kill();
    }
  });

  it('fails PERMANENT at once for a key the server does not accept', async () => {
    const { repoDir, url } = await fresh();
    const stranger = path.join(work, `stranger_${n}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const e = await open(url(), repoDir, makeSettings('offsite', { ssh_key_file: stranger }, {})).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'PERMANENT', temporary: false });
    expect((e as DbkError).hint).toMatch(/ssh_key_file/);
  });

  it('opens N channels over N/4 connections for -threads N, through the registry', async () => {
    const { repoDir, url } = await fresh();
    const count = (re: RegExp) => (sshd.log().match(re) ?? []).length;
    const [logins, sessions] = [count(/Accepted publickey/g), count(/Starting session: subsystem 'sftp'/g)];
    const b = await openBackend(url(), context(repoDir, 8));
    await Promise.all(Array.from({ length: 64 }, (_, i) => b.write(`c/${i}`, randomBytes(1000))));
    expect((await b.list('c')).length).toBe(64);
    await b.close();
    expect(count(/Accepted publickey/g) - logins).toBe(2);
    expect(count(/Starting session: subsystem 'sftp'/g) - sessions).toBe(8);
  });

  it('flushes the folder of every name it makes, moves or removes (an OpenSSH server opens a folder for fsync@openssh.com)', async () => {
    const { root, repoDir, url } = await fresh();
    const b = await open(url(), repoDir);
    flushedFolders.length = 0;
    await b.write('chunks/ab/cd', randomBytes(100));
    await b.rename('chunks/ab/cd', 'chunks/ab/cd.fsl');
    await b.delete('chunks/ab/cd.fsl');
    await b.close();
    // the new folder's parents, then the folder after the write, after the rename, after the removal; each done
    expect(flushedFolders.map(([dir, done]) => [path.relative(root, dir) || '.', done])).toEqual([
      ['chunks', true],
      ['.', true],
      ['chunks/ab', true],
      ['chunks/ab', true],
      ['chunks/ab', true],
    ]);
  });

  it('recovers when the server is killed in the middle of an upload', async () => {
    const { root, repoDir, url } = await fresh();
    const b: Backend = await openBackend(url(), context(repoDir, 4)); // with the retry wrapper, as the engine gets it
    const data = randomBytes(48 * 1024 * 1024);
    const others = Array.from({ length: 16 }, () => randomBytes(100_000));
    const uploads = [b.write('big', data), ...others.map((d, i) => b.write(`small/${i}`, d))];
    await waitFor(async () => (await fs.readdir(root).catch(() => [])).some((f) => f.startsWith('.dbk-tmp.big')));
    await sshd.kill();
    await new Promise((r) => setTimeout(r, 300)); // down for a moment: some retries hit a closed port
    await sshd.restart();
    await Promise.all(uploads);
    expect((await b.read('big')).equals(data)).toBe(true);
    for (const [i, d] of others.entries()) expect((await b.read(`small/${i}`)).equals(d)).toBe(true);
    expect((await b.list('')).map((e) => e.name).sort()).toEqual(['big', 'small']);
    await b.close();
  });

  const context = (repoDir: string, threads: number): BackendContext => ({
    settings: makeSettings('offsite', {}, { DBK_OFFSITE_SSH_KEY_FILE: sshd.userKey.privateKeyFile }),
    repoDir,
    threads,
    log: silentLogger,
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  for (const start = Date.now(); !(await condition()); ) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
