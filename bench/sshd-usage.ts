// What the throwaway OpenSSH server of test/support/sshd.ts has used, from /proc (Linux): the
// listening sshd's own figures plus those of every session it has reaped (the kernel adds a reaped
// child's CPU time and I/O counts to its parent's), read once the sessions of the last step ended.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Sshd } from '../test/support/sshd.js';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** The server's process id, once the sessions it was serving have ended and been reaped (10 s at most). */
async function settled(sshd: Sshd): Promise<number> {
  const pid = sshd.pid();
  if (pid === undefined) throw new Error('sshd is not running');
  const children = () => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  for (let waited = 0; children() !== '' && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  return pid;
}

/** CPU seconds used by sshd and every session it has reaped. */
export async function serverCpu(sshd: Sshd): Promise<number> {
  const stat = readFileSync(`/proc/${await settled(sshd)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number); // fields 14-17
  return ((utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0)) / CLK_TCK;
}

/**
 * /proc/<pid>/io of sshd and every session it has reaped: rchar is the bytes its read calls
 * returned (the SSH stream from the clients' sockets, plus the files SFTP clients downloaded and
 * the sessions' pipes), wchar the bytes written (the files uploaded, plus the stream sent back).
 */
export async function serverIo(sshd: Sshd): Promise<{ rchar: number; wchar: number }> {
  const io = readFileSync(`/proc/${await settled(sshd)}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
  return { rchar: field('rchar'), wchar: field('wchar') };
}
