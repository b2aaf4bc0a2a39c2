// npm run --silent torture -- [--trials N] [--seed S] [--steps K] [--storage local|sftp|s3]
// Prints one line: schedules, steps, kills, holds across prunes, chunks checked, chunks lost.
// Exits 1 when a chunk was lost or anything else went wrong, with the details on stderr.

import { parseArgs } from 'node:util';
import { runTorture, summaryLine } from './run.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    steps: { type: 'string', default: '10' },
    storage: { type: 'string', default: 'local' },
    progress: { type: 'boolean', default: false },
  },
});
const count = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive whole number, not ${text}`);
  return n;
};
const storage = values.storage;
if (storage !== 'local' && storage !== 'sftp' && storage !== 's3') throw new Error(`--storage is local, sftp or s3, not ${storage}`);
const seed = count('seed', values.seed);
let reported = 0;
const result = await runTorture({
  trials: count('trials', values.trials),
  seed,
  steps: count('steps', values.steps),
  storage,
  onSchedule: (t) => {
    // failures as they happen: a long run's details must not wait for its end
    for (const f of t.failures.slice(reported)) process.stderr.write(`${f}\n\n`);
    reported = t.failures.length;
    if (values.progress) process.stderr.write(`${t.schedules} schedules, ${t.steps} steps, ${t.kills} kills, ${t.lost.size} lost, ${t.failures.length} failures\n`);
  },
});
if (result.kept.length > 0) process.stderr.write(`kept for a look: ${result.kept.join(' ')}\n`);
process.stdout.write(`${summaryLine(result, seed)}\n`);
process.exitCode = result.lost.size > 0 || result.failures.length > 0 ? 1 : 0;
