// Runs the built dbk CLI as a user would (with the node options of its #! line), under
// /usr/bin/time, for the benchmarks of whole commands: wall time and peak RSS of the dbk process,
// and what it printed.

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliNodeOptions } from '../test/support/cli-node-options.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const NODE_OPTIONS_OF_CLI = cliNodeOptions(CLI);

export interface Measurement {
  name: string;
  /** the command as a user would type it, with the environment it needs */
  command: string;
  seconds: number;
  peakMb: number;
  target: string;
  output: string;
  /** what it logged (stderr, without /usr/bin/time's line) */
  log: string;
}

export function timed(name: string, repoDir: string, args: string[], target: string, env: NodeJS.ProcessEnv = {}): Measurement {
  const r = spawnSync('/usr/bin/time', timeArgs(args), { cwd: repoDir, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  return measurement(name, args, target, env, r.status, r.stdout, r.stderr);
}

/**
 * As timed(), without blocking this process's event loop while dbk runs: for a server this
 * process reads the output of (test/support/sshd.ts), which stalls once its pipe is full.
 */
export function timedAsync(name: string, repoDir: string, args: string[], target: string, env: NodeJS.ProcessEnv = {}): Promise<Measurement> {
  const child = spawn('/usr/bin/time', timeArgs(args), { cwd: repoDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(measurement(name, args, target, env, code, stdout, stderr));
      } catch (e) {
        reject(e);
      }
    });
  });
}

const timeArgs = (args: string[]) => ['-f', '%e %M', process.execPath, ...NODE_OPTIONS_OF_CLI, CLI, ...args];

function measurement(name: string, args: string[], target: string, env: NodeJS.ProcessEnv, status: number | null, stdout: string, stderr: string): Measurement {
  const lines = stderr.trim().split('\n');
  const last = lines.at(-1) ?? '';
  const m = /^([\d.]+) (\d+)$/.exec(last);
  if (status !== 0 || !m) throw new Error(`${name} failed (exit ${status}):\n${stderr.slice(-2000)}`);
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  return { name, command: `${envText}dbk ${args.join(' ')}`, seconds: Number(m[1]), peakMb: Number(m[2]) / 1024, target, output: stdout, log: lines.slice(0, -1).join('\n') };
}

/** The table rows of check -tabular without the per-run "listed at" line, for comparing outputs. */
export const tableOf = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('|'))
    .join('\n');
