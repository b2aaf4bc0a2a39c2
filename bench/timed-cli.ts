// Runs the built dbk CLI as a user would (with the node options of its #! line), under
// /usr/bin/time, for the benchmarks of whole commands: wall time and peak RSS of the dbk process,
// and what it printed.

import { spawnSync } from 'node:child_process';
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
}

export function timed(name: string, repoDir: string, args: string[], target: string, env: NodeJS.ProcessEnv = {}): Measurement {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...NODE_OPTIONS_OF_CLI, CLI, ...args], {
    cwd: repoDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  const m = /^([\d.]+) (\d+)$/.exec(last);
  if (r.status !== 0 || !m) throw new Error(`${name} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  return { name, command: `${envText}dbk ${args.join(' ')}`, seconds: Number(m[1]), peakMb: Number(m[2]) / 1024, target, output: r.stdout };
}

/** The table rows of check -tabular without the per-run "listed at" line, for comparing outputs. */
export const tableOf = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('|'))
    .join('\n');
