// A real OpenSSH server for tests and for bench/sftp.ts: `sshd -D -e` on 127.0.0.1, on free
// ports, as the current user (root or not), with its own temp folder, a generated ed25519 host key
// and user key, no PAM and no strict modes. A second port serves the same files read-only
// (internal-sftp -R), for tests of permission errors that root cannot otherwise provoke. kill()
// ends the server and every session at once, as a crash would; restart() brings it back on the
// same ports. Nothing here depends on vitest.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports.js';

export const SSHD_PATH = process.env.DBK_TEST_SSHD ?? '/usr/sbin/sshd';

/**
 * Why sshd cannot run here, or undefined when it can. Under CI a missing sshd is an error, so a
 * CI run can never pass by skipping the SFTP tests.
 */
export function sshdUnavailable(): string | undefined {
  if (existsSync(SSHD_PATH)) return undefined;
  const why = `${SSHD_PATH} not found: install openssh-server (.ci/install-sshd.sh) to run the SFTP tests`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(why);
  console.warn(`skipping SFTP tests: ${why}`);
  return why;
}

export interface UserKey {
  privateKeyFile: string;
  /** "ssh-ed25519 AAAA…" */
  publicKey: string;
}

export interface Sshd {
  host: string;
  port: number;
  /** the same server, but every change is refused with permission denied */
  readOnlyPort: number;
  user: string;
  /** the server's own temp folder; tests may use sub-folders of it as storage */
  dir: string;
  /** a key authorized to log in, without passphrase */
  userKey: UserKey;
  /** "ssh-ed25519 AAAA…" */
  hostPublicKey: string;
  /** Generates another authorized user key. */
  newUserKey(passphrase?: string): UserKey;
  /** Kills the server and every open session at once, as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same ports, with the same keys. */
  restart(): Promise<void>;
  /** Kills the server and removes its folder. */
  close(): Promise<void>;
  /** the server's log since it was last (re)started */
  log(): string;
  /** the listening server's process id (its sessions are its descendants), undefined while killed */
  pid(): number | undefined;
}

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbk-sshd-'));
  const user = userInfo().username;
  const hostKeyFile = path.join(dir, 'host_ed25519');
  keygen(hostKeyFile, '');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, '', { mode: 0o600 });
  let keys = 0;
  const newUserKey = (passphrase = ''): UserKey => {
    const privateKeyFile = path.join(dir, `user_key_${keys++}`);
    const publicKey = keygen(privateKeyFile, passphrase);
    appendFileSync(authorizedKeys, `${publicKey}\n`);
    return { privateKeyFile, publicKey };
  };
  const userKey = newUserKey();
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation

  let server: Running | undefined;
  let ports: [number, number] = [0, 0];
  for (let attempt = 1; !server; attempt++) {
    // the ports are free when chosen but may be taken before sshd binds them: choose again
    ports = [await freePort(), await freePort()];
    const config = path.join(dir, 'sshd_config');
    writeFileSync(config, sshdConfig({ dir, user, hostKeyFile, authorizedKeys, ports }));
    try {
      server = await run(config);
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
  const [port, readOnlyPort] = ports;
  let running: Running | undefined = server;
  let lastLog = '';

  const kill = async () => {
    await running?.kill();
    lastLog = running?.log() ?? lastLog;
    running = undefined;
  };
  return {
    host: '127.0.0.1',
    port,
    readOnlyPort,
    user,
    dir,
    userKey,
    hostPublicKey: readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '),
    newUserKey,
    kill,
    async restart() {
      await kill();
      running = await run(path.join(dir, 'sshd_config'));
    },
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => running?.log() ?? lastLog,
    pid: () => running?.pid,
  };
}

interface ConfigInput {
  dir: string;
  user: string;
  hostKeyFile: string;
  authorizedKeys: string;
  ports: [number, number];
}

function sshdConfig({ dir, user, hostKeyFile, authorizedKeys, ports }: ConfigInput): string {
  const lines = [
    `ListenAddress 127.0.0.1:${ports[0]}`,
    `ListenAddress 127.0.0.1:${ports[1]}`,
    `HostKey ${hostKeyFile}`,
    'PidFile none',
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'MaxSessions 64',
    'MaxStartups 64:30:128',
    'LogLevel VERBOSE', // logs each session (SFTP channel) too
    'Subsystem sftp internal-sftp',
    // newer OpenSSH bars clients that disconnect early (as a refused host key does) for a while
    ...(supportsPerSourcePenalties(dir) ? ['PerSourcePenalties no'] : []),
    `Match LocalPort ${ports[1]}`,
    '  ForceCommand internal-sftp -R',
  ];
  return `${lines.join('\n')}\n`;
}

let penaltiesSupported: boolean | undefined;

function supportsPerSourcePenalties(dir: string): boolean {
  if (penaltiesSupported === undefined) {
    const probe = path.join(dir, 'probe_config');
    writeFileSync(probe, `PerSourcePenalties no\nHostKey ${path.join(dir, 'host_ed25519')}\n`);
    try {
      execFileSync(SSHD_PATH, ['-t', '-f', probe], { stdio: 'pipe' });
      penaltiesSupported = true;
    } catch {
      penaltiesSupported = false;
    }
  }
  return penaltiesSupported;
}

interface Running {
  pid: number;
  kill(): Promise<void>;
  log(): string;
}

/** Starts sshd and resolves once it listens on every configured address. */
function run(config: string): Promise<Running> {
  const expected = readFileSync(config, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('ListenAddress')).length;
  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      void killTree(child);
      reject(new Error(`sshd did not start (${why}):\n${log.slice(-4000)}`));
    };
    const failOnExit = (code: number | null) => fail(`exit ${code}`);
    const timer = setTimeout(() => fail('timeout'), 10_000);
    child.on('error', (e) => fail(e.message));
    child.on('exit', failOnExit);
    let started = false;
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      log += s;
      if (started || (log.match(/Server listening on/g) ?? []).length < expected) return;
      started = true;
      clearTimeout(timer);
      child.off('exit', failOnExit);
      resolve({ pid: child.pid!, kill: () => killTree(child), log: () => log });
    });
  });
}

/** SIGKILLs sshd and all its descendants (each session runs in its own process, in its own session id). */
async function killTree(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  for (const pid of [child.pid, ...descendants(child.pid)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await exited;
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function keygen(file: string, passphrase: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'dbk-test', '-f', file], { stdio: 'pipe' });
  return readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}
