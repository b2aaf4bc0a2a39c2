// check at scale over odb://: `check -a -tabular` on a shape of the scale fixture (by default S, a
// tenth of shape M: 100,000 chunks, 1,000 revisions, 7 ids, 10,000 refs a revision), its storage served by the
// Graph emulator in a separate process with a fixed latency per request, cold (caches emptied
// first) and warm (--from-cache), beside the same checks on the local storage the fixture was made
// in. The emulator's drive is a copy of that storage (--seed-dir), so both check the same data.
//
//   npm run --silent bench:odb-check -- [--shape S|M] [--dir DIR] [--latency-ms 30] [--runs 3] [--threads 16]
//
// The fixture is made in DIR (default /tmp/dbk-scale-<shape>, shared with bench:scale) unless it
// is there. Each check runs `--runs` times (cold, warm, cold, warm, …) under /usr/bin/time; the
// table gives the median wall time and peak RSS of dbk, the emulator's HTTP requests, and the load
// average when each run started. Every run must print the same table.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readPreferences, writePreferences } from '../src/storage/preferences.js';
import { loadAverage, startEmulatorProcess } from './emulator-process.js';
import { makeScaleFixture, SHAPES } from './fixture-scale.js';
import { type Measurement, tableOf, timed } from './timed-cli.js';

interface Row {
  storage: string;
  check: 'cold' | 'warm';
  runs: (Measurement & { load: number; requests?: number })[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'S' },
      dir: { type: 'string' },
      'latency-ms': { type: 'string', default: '30' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: '16' },
    },
  });
  const name = values.shape.toUpperCase();
  const shape = SHAPES[name];
  if (!shape) throw new Error(`unknown shape ${values.shape} (S, M or L)`);
  const dir = path.resolve(values.dir ?? `/tmp/dbk-scale-${name.toLowerCase()}`);
  if (!fs.existsSync(path.join(dir, 'storage', 'config'))) {
    process.stderr.write(`making the shape ${name} fixture in ${dir}\n`);
    await makeScaleFixture(dir, shape, (line) => process.stderr.write(`  ${line}\n`));
  }
  const work = fs.mkdtempSync(path.join(tmpdir(), 'dbk-odb-check-'));
  const odbRoot = `bench/scale-${name.toLowerCase()}`;
  const started = Date.now();
  const emulator = await startEmulatorProcess(work, ['--latency-ms', values['latency-ms'], '--seed-dir', path.join(dir, 'storage'), '--root', odbRoot]);
  try {
    process.stderr.write(`emulator holding the fixture's storage ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const localRepo = path.join(dir, 'repo');
    const odbRepo = odbRepository(localRepo, path.join(work, 'repo'), odbRoot, emulator.settings);
    const threads = ['-threads', values.threads];
    const rows: Row[] = [];
    for (const [storage, repoDir] of [
      ['local', localRepo],
      ['odb://', odbRepo],
    ] as const) {
      const cold: Row = { storage, check: 'cold', runs: [] };
      const warm: Row = { storage, check: 'warm', runs: [] };
      rows.push(cold, warm);
      for (let i = 0; i < Number(values.runs); i++) {
        fs.rmSync(path.join(repoDir, '.dbk', 'cache'), { recursive: true, force: true });
        for (const [row, args] of [
          [cold, ['check', '-a', '-tabular', ...threads]],
          [warm, ['check', '-a', '-tabular', '--from-cache', ...threads]],
        ] as const) {
          await emulator.resetCounters();
          await emulator.collectGarbage();
          const load = loadAverage();
          const m = timed(`${storage} ${row.check}`, repoDir, [...args], '');
          const requests = storage === 'local' ? undefined : (await emulator.counters()).requests;
          process.stderr.write(`${m.name}: ${m.seconds} s, ${m.peakMb.toFixed(0)} MB, ${requests ?? '—'} requests (load ${load})\n`);
          row.runs.push({ ...m, load, requests });
        }
      }
    }
    const tables = new Set(rows.flatMap((r) => r.runs.map((m) => tableOf(m.output))));
    if (tables.size !== 1) throw new Error(`the checks printed ${tables.size} different tables`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `Shape ${name}: ${shape.chunks.toLocaleString('en-US')} chunks, ${shape.revisions} revisions, ${shape.ids} ids, ` +
        `${shape.refs.toLocaleString('en-US')} refs a revision; odb:// on the Graph emulator with ${values['latency-ms']} ms per request, ` +
        `\`odb_max_batch_requests=max\`; medians of ${values.runs} runs\n`,
    );
    console.log('| storage | check | command | wall s | peak RSS MB | HTTP requests | load at start |');
    console.log('| --- | --- | --- | ---: | ---: | ---: | --- |');
    for (const r of rows) {
      const requests = r.runs[0]!.requests === undefined ? '—' : String(median(r.runs.map((m) => m.requests!)));
      const wall = median(r.runs.map((m) => m.seconds)).toFixed(2);
      const rss = median(r.runs.map((m) => m.peakMb)).toFixed(0);
      const loads = r.runs.map((m) => m.load.toFixed(1)).join(', ');
      console.log(`| ${r.storage} | ${r.check} | \`${r.runs[0]!.command}\` | ${wall} | ${rss} | ${requests} | ${loads} |`);
    }
  } finally {
    emulator.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A repository folder like `localRepo` whose storage is the fixture's copy on the emulator. */
function odbRepository(localRepo: string, repoDir: string, odbRoot: string, settings: Record<string, string>): string {
  const prefs = readPreferences(localRepo);
  prefs.storages = prefs.storages.map((s) => ({ ...s, url: `odb://${odbRoot}`, settings: { ...s.settings, ...settings, odb_max_batch_requests: 'max' } }));
  writePreferences(repoDir, prefs);
  return repoDir;
}

main().catch((e: unknown) => {
  process.stderr.write(`odb-check: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
