// npm run --silent fuzz -- [--cases N] [--seed S]: N seeded cases for every decoder; one line per
// decoder and a summary. Exits 1 when a case escaped (threw anything but a DbkError).

import { parseArgs } from 'node:util';
import { runFuzz } from './run.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' } } });
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) throw new Error('--cases and --seed take whole numbers');
const r = await runFuzz({
  cases,
  seed,
  onTarget: (t) =>
    process.stdout.write(
      `${t.name.padEnd(20)} ${t.cases.toLocaleString('en-US')} cases, ${t.decoded.toLocaleString('en-US')} decoded, ${t.escapes.length} escaped, slowest ${t.slowestMs.toFixed(1)} ms, ${t.seconds.toFixed(1)} s\n`,
    ),
});
const escaped = r.targets.reduce((n, t) => n + t.escapes.length, 0);
for (const t of r.targets) for (const e of t.escapes) process.stderr.write(`${t.name}: ${e.error}\n  input ${e.input}\n`);
process.stdout.write(
  `fuzz (seed ${seed}): ${r.targets.length} decoders × ${cases.toLocaleString('en-US')} cases, ${escaped} escaped, peak RSS ${r.peakRssMb.toFixed(0)} MB, ${(r.seconds / 60).toFixed(1)} min\n`,
);
process.exitCode = escaped > 0 ? 1 : 0;
