// The scale benchmark: check and prune on the scale fixture, timed as a user would run them.
//   npm run --silent bench:scale -- [--shape M|L|S] [--dir DIR]
// Shape M: 1,000,000 chunks, 1,000 revisions, 7 ids, 100,000 refs a revision (1% churn);
// shape L is four times M in chunks and refs (the seed's storage); shape S is a tenth of M's
// chunks and refs with the same 1,000 revisions. The fixture is made
// in DIR (default /tmp/dbk-scale-<shape>) unless it is there already. Each measurement runs the
// built CLI under /usr/bin/time -f '%e %M' and the results print as a markdown table:
//   cold   check -a -tabular, caches emptied first
//   warm   check -a -tabular --from-cache
//   prune  prune -a -exhaustive -dry-run --from-cache -keep 0:360 -keep 30:90 -keep 7:30 -keep 1:7 (warm)
//   naive  the warm check with the revision cache turned off (snapshot_chunk_ids_cache=false)

import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeScaleFixture, SHAPES } from './fixture-scale.js';
import { type Measurement, tableOf, timed } from './timed-cli.js';

const KEEP = ['-keep', '0:360', '-keep', '30:90', '-keep', '7:30', '-keep', '1:7'];

/** Each shape's targets (issues 3 and 15); S has none of its own. */
const TARGETS: Record<string, { cold: string; warm: string; prune: string }> = {
  S: { cold: '', warm: '', prune: '' },
  M: { cold: '≤ 600 s', warm: '≤ 15 s, ≤ 400 MB', prune: '≤ 30 s' },
  L: { cold: '≤ 900 s, ≤ 1 GB', warm: '≤ 10 s, ≤ 500 MB', prune: '≤ 20 s' },
};

function parseArgs(argv: string[]): { shape: string; dir: string } {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const shape = (get('shape') ?? 'M').toUpperCase();
  if (!SHAPES[shape]) throw new Error(`unknown shape ${shape} (M, L or S)`);
  return { shape, dir: path.resolve(get('dir') ?? `/tmp/dbk-scale-${shape.toLowerCase()}`) };
}

async function main(): Promise<void> {
  const { shape, dir } = parseArgs(process.argv.slice(2));
  const s = SHAPES[shape]!;
  const target = TARGETS[shape]!;
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
  const cold = run('check, empty caches', repoDir, ['check', '-a', '-tabular'], target.cold);
  const warm = run('check, warm caches', repoDir, ['check', '-a', '-tabular', '--from-cache'], target.warm);
  run('prune dry run, warm', repoDir, ['prune', '-a', '-exhaustive', '-dry-run', '--from-cache', ...KEEP], target.prune);
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
