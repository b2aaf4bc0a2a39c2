// Running a command to its end from a benchmark without blocking the event loop: a server a
// benchmark runs in its own process (the moto relay, sshd's log reader) must go on answering.

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; its stderr goes to the file `stderrTo` when given. */
export function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stderrTo?: string } = {}): Promise<Exit> {
  const errFd = opts.stderrTo === undefined ? undefined : openSync(opts.stderrTo, 'w');
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', errFd ?? 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (errFd !== undefined) closeSync(errFd);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** As exec(), and a non-zero exit is an error; resolves with stdout. */
export async function mustExec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}
