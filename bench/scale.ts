// The scale benchmark: check and prune on the scale fixture, timed as a user would run them.
//   npm run --silent bench:scale -- [--shape M|S] [--dir DIR]
// Shape M: 1,000,000 chunks, 1,000 revisions, 7 ids, 100,000 refs a revision (1% churn);
// shape S is a tenth of the chunks and refs with the same 1,000 revisions. The fixture is made
// in DIR (default /tmp/dbk-scale-<shape>) unless it is there already. Each measurement runs the
// built CLI under /usr/bin/time -f '%e %M' and the results print as a markdown table:
//   cold   check -a -tabular, caches emptied first
//   warm   check -a -tabular --from-cache
//   prune  prune -a -exhaustive -dry-run --from-cache -keep 0:360 -keep 30:90 -keep 7:30 -keep 1:7 (warm)
//   naive  the warm check with the revision cache turned off (snapshot_chunk_ids_cache=false)

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ScaleShape, makeScaleFixture } from './fixture-scale.js';

const SHAPES: Record<string, ScaleShape> = {
  M: { chunks: 1_000_000, revisions: 1000, ids: 7, refs: 100_000, churn: 0.01, seed: 1 },
  S: { chunks: 100_000, revisions: 1000, ids: 7, refs: 10_000, churn: 0.01, seed: 1 },
};

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const KEEP = ['-keep', '0:360', '-keep', '30:90', '-keep', '7:30', '-keep', '1:7'];

interface Measurement {
  name: string;
  command: string;
  seconds: number;
  peakMb: number;
  target: string;
  output: string;
}

function timed(name: string, repoDir: string, args: string[], target: string, env: NodeJS.ProcessEnv = {}): Measurement {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, CLI, ...args], {
    cwd: repoDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  const m = /^([\d.]+) (\d+)$/.exec(last);
  if (r.status !== 0 || !m) throw new Error(`${name} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  return { name, command: `${envText}dbk ${args.join(' ')}`, seconds: Number(m[1]), peakMb: Number(m[2]) / 1024, target, output: r.stdout };
}

function parseArgs(argv: string[]): { shape: string; dir: string } {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const shape = (get('shape') ?? 'M').toUpperCase();
  if (!SHAPES[shape]) throw new Error(`unknown shape ${shape} (M or S)`);
  return { shape, dir: path.resolve(get('dir') ?? `/tmp/dbk-scale-${shape.toLowerCase()}`) };
}

/** The table rows without the per-run "listed at" line, for comparing outputs. */
const tableOf = (out: string) => out.split('\n').filter((l) => l.includes('|')).join('\n');

async function main(): Promise<void> {
  const { shape, dir } = parseArgs(process.argv.slice(2));
  const s = SHAPES[shape]!;
  const repoDir = path.join(dir, 'repo');
  if (!fs.existsSync(path.join(dir, 'storage', 'config'))) {
    process.stderr.write(`making the shape ${shape} fixture in ${dir}\n`);
    await makeScaleFixture(dir, s, (line) => process.stderr.write(`  ${line}\n`));
  }
  fs.rmSync(path.join(repoDir, '.dbk', 'cache'), { recursive: true, force: true });
  const runs: Measurement[] = [];
  const run = (...a: Parameters<typeof timed>) => {
    process.stderr.write(`running ${a[0]}\n`);
    const m = timed(...a);
    process.stderr.write(`  ${m.seconds} s, ${m.peakMb.toFixed(0)} MB\n`);
    runs.push(m);
    return m;
  };
  const cold = run('check, empty caches', repoDir, ['check', '-a', '-tabular'], '≤ 600 s');
  const warm = run('check, warm caches', repoDir, ['check', '-a', '-tabular', '--from-cache'], '≤ 15 s, ≤ 400 MB');
  run('prune dry run, warm', repoDir, ['prune', '-a', '-exhaustive', '-dry-run', '--from-cache', ...KEEP], '≤ 30 s');
  const naive = run('check, revision cache off', repoDir, ['check', '-a', '-tabular', '--from-cache'], '(for the ratio)', { DBK_SNAPSHOT_CHUNK_IDS_CACHE: 'false' });
  if (tableOf(cold.output) !== tableOf(warm.output) || tableOf(warm.output) !== tableOf(naive.output)) {
    throw new Error('the cold, warm and naive checks printed different tables');
  }
  const rows = runs.map((m) => `| ${m.name} | \`${m.command}\` | ${m.seconds.toFixed(2)} | ${m.peakMb.toFixed(0)} | ${m.target} |`);
  process.stdout.write(
    [
      `Shape ${shape}: ${s.chunks.toLocaleString('en-US')} chunks, ${s.revisions} revisions, ${s.ids} ids, ${s.refs.toLocaleString('en-US')} refs a revision, churn ${s.churn}`,
      '',
      '| measurement | command | wall s | peak RSS MB | target |',
      '| --- | --- | ---: | ---: | --- |',
      ...rows,
      '',
      `warm check is ${(naive.seconds / warm.seconds).toFixed(1)}× faster than the naive path (target ≥ 20×)`,
      '',
    ].join('\n'),
  );
}

await main();
