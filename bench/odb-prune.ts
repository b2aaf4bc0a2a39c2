// Issue 15, part 3: prune over odb:// with its renames and deletes in $batch requests. On a storage
// served by the Graph emulator (a separate process, --latency-ms per request) holding three
// revisions of a small tree, made by `dbk backup`, plus N unreferenced chunk files put straight
// into the emulator's drive (test/support/graph-emulator/populate.ts):
//   step 1  `dbk prune --exhaustive --collect-only`  lists chunks/ and makes fossils of the N
//   step 2  `dbk prune --delete-only`                the collection is ripe (no backup was running
//                                                    when it was made): deletes the N fossils
// each under /usr/bin/time (wall, peak RSS), with the emulator's counters reset before it. Targets:
// each step ≤ 30 s at N = 100,000 with `odb_max_batch_requests=max`, and ≥ 10× faster than one
// request per chunk (batching off) at the same --threads.
//
//   npm run --silent bench:odb-prune -- [--chunks 100000] [--latency-ms 30] [--threads 16]
//                                       [--single-chunks 10000] [--storm-chunks 20000] [--no-storm]
//                                       [--storm] [--keep]
//
// Runs, each on a fresh emulator:
//   batched         N chunks, DBK_DEFAULT_ODB_MAX_BATCH_REQUESTS=max
//   single          --single-chunks chunks (default min(N, 10,000): one request per chunk is slow;
//                   0 leaves it out), batching off; its time is scaled linearly to N for the ratio, and when it is
//                   smaller than N the batched run is made at its size too, for a measured ratio
//   storm           --storm-chunks chunks, batched, every 5th request a 429 (Retry-After 0.2 s) and
//                   every 7th request inside a $batch a 429 (Retry-After 0.2 s) during both steps,
//                   the check and the restores (--no-storm leaves it out; --storm runs it alone)
// After every run: chunks/ holds exactly the chunk files it held before less the N (no fossil is
// left, every referenced chunk is there), `dbk check -a --files` passes, and every revision,
// restored into a fresh repository joined to the storage, equals its source tree byte for byte.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { collectTree } from '../backends/list-tree.js';
import { openBackend } from '../backends/registry.js';
import { FOSSIL_SUFFIX } from '../src/format/ids.js';
import { silentLogger } from '../src/log.js';
import { makeSettings } from '../src/settings.js';
import { DBK_DIR } from '../src/storage/preferences.js';
import type { FaultKnobs } from '../test/support/graph-emulator/faults.js';
import { chunkPath } from '../test/support/graph-emulator/populate.js';
import { type EmulatorProcess, loadAverage, startEmulatorProcess } from './emulator-process.js';
import { timed } from './timed-cli.js';

const ROOT = 'bench/prune';
const URL_ = `odb://${ROOT}`;
const SNAPSHOT_ID = 'prune';
const REVISIONS = 3;
const STORM: Partial<FaultKnobs> = { throttleEveryNth: 5, throttleRetryAfter: '0.2', innerThrottleEveryNth: 7, innerThrottleRetryAfter: '0.2' };

interface Options {
  chunks: number;
  singleChunks: number;
  stormChunks: number;
  latencyMs: string;
  threads: string;
  storm: boolean;
  stormOnly: boolean;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    allowNegative: true,
    options: {
      chunks: { type: 'string', default: '100000' },
      'single-chunks': { type: 'string' },
      'storm-chunks': { type: 'string', default: '20000' },
      'latency-ms': { type: 'string', default: '30' },
      threads: { type: 'string', default: '16' },
      storm: { type: 'boolean' },
      keep: { type: 'boolean', default: false },
    },
  });
  const chunks = Number(values.chunks);
  const o: Options = {
    chunks,
    singleChunks: values['single-chunks'] === undefined ? Math.min(chunks, 10_000) : Number(values['single-chunks']),
    stormChunks: Number(values['storm-chunks']),
    latencyMs: values['latency-ms'],
    threads: values.threads,
    storm: values.storm !== false,
    stormOnly: values.storm === true,
    keep: values.keep,
  };
  if (o.singleChunks < 0 || ![o.chunks, o.singleChunks || 1, o.stormChunks, Number(o.threads), Number(o.latencyMs) + 1].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error('usage: npm run bench:odb-prune -- [--chunks 100000] [--latency-ms 30] [--threads 16] [--single-chunks 10000] [--storm-chunks 20000] [--no-storm] [--storm] [--keep]');
  }
  return o;
}

// ---- the tree and its revisions ----

/** Version v (1…REVISIONS) of the tree backed up: 40 files of 1–300 KiB and one of 2 MiB; each version changes, adds and removes some. */
function writeVersion(root: string, v: number): void {
  const bytes = (n: number, seed: string) => {
    const out = Buffer.allocUnsafe(n);
    for (let pos = 0, i = 0; pos < n; pos += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, pos);
    return out;
  };
  const put = (rel: string, data: Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  if (v === 1) {
    for (let i = 0; i < 40; i++) put(`d${i % 4}/f${i}.bin`, bytes(1024 + ((i * 7919) % 300) * 1024, `f${i}`));
    put('big.bin', bytes(2 << 20, 'big'));
    return;
  }
  for (let i = v; i < 40; i += 8) put(`d${i % 4}/f${i}.bin`, bytes(4096 + i * 1000, `f${i} v${v}`)); // changed
  for (let i = 0; i < 4; i++) put(`new${v}/g${i}.txt`, Buffer.from(`file ${i} of version ${v}\n`.repeat(500 * (i + 1)))); // added
  fs.rmSync(path.join(root, `d${v % 4}/f${v + 4}.bin`), { force: true }); // removed
  const big = fs.readFileSync(path.join(root, 'big.bin'));
  bytes(10_000, `big v${v}`).copy(big, v * 300_000); // edited in the middle
  put('big.bin', big);
}

/** Every file below `root` (without .dbk/) by relative path. */
function filesOf(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    const abs = path.join(e.parentPath, e.name);
    const rel = path.relative(root, abs);
    if (rel === DBK_DIR || rel.startsWith(`${DBK_DIR}${path.sep}`)) continue;
    if (e.isFile()) out.set(rel, fs.readFileSync(abs));
    else if (!e.isDirectory()) throw new Error(`unexpected ${abs}`);
  }
  return out;
}

function sameTree(expected: Map<string, Buffer>, got: Map<string, Buffer>, what: string): void {
  const problems: string[] = [];
  for (const [rel, data] of expected) {
    const g = got.get(rel);
    if (!g) problems.push(`missing ${rel}`);
    else if (!g.equals(data)) problems.push(`differs: ${rel}`);
  }
  for (const rel of got.keys()) if (!expected.has(rel)) problems.push(`extra ${rel}`);
  if (problems.length > 0) throw new Error(`${what}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` and ${problems.length - 10} more` : ''}`);
}

// ---- the storage ----

interface StorageFiles {
  chunks: Set<string>;
  fossils: Set<string>;
}

/** The chunk files and fossils below chunks/ ("ab/cd…", fossils without their suffix). */
async function storageFiles(emulator: EmulatorProcess, work: string): Promise<StorageFiles> {
  const settings = makeSettings('default', { ...emulator.settings, odb_max_batch_requests: 'max' }, {});
  const backend = await openBackend(URL_, { settings, repoDir: work, threads: 16, log: silentLogger });
  try {
    const files: StorageFiles = { chunks: new Set(), fossils: new Set() };
    for (const e of await collectTree(backend, 'chunks', { threads: 16 })) {
      if (e.name.endsWith(FOSSIL_SUFFIX)) files.fossils.add(e.name.slice(0, -FOSSIL_SUFFIX.length));
      else files.chunks.add(e.name);
    }
    return files;
  } finally {
    await backend.close();
  }
}

const fakeChunks = (n: number) => new Set(Array.from({ length: n }, (_, i) => chunkPath(i).slice('chunks/'.length)));

function sameSet(expected: Set<string>, got: Set<string>, what: string): void {
  const missing = [...expected].filter((x) => !got.has(x));
  const extra = [...got].filter((x) => !expected.has(x));
  if (missing.length + extra.length > 0) throw new Error(`${what}: ${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra (${extra.slice(0, 3).join(', ')})`);
}

// ---- a run ----

interface Scenario {
  label: string;
  chunks: number;
  batch: 'max' | 'off';
  storm: boolean;
}

interface Step {
  scenario: Scenario;
  step: 'step 1' | 'step 2';
  command: string;
  seconds: number;
  peakMb: number;
  requests: number;
  inner: number;
  throttled: number;
  emulatorCpuS: number;
  load: number;
  /** what the step did: fossils made, or fossils deleted */
  done: number;
}

interface Outcome {
  scenario: Scenario;
  steps: Step[];
  /** chunk files of the revisions, before and after */
  referenced: number;
  chunksAfter: number;
  fossilsAfter: number;
  checked: string;
}

async function runScenario(o: Options, s: Scenario): Promise<Outcome> {
  const work = fs.mkdtempSync(path.join(tmpdir(), 'dbk-odb-prune-'));
  const t0 = Date.now();
  const emulator = await startEmulatorProcess(work, ['--latency-ms', o.latencyMs, '--populate-chunks', String(s.chunks), '--root', ROOT]);
  const say = (line: string) => process.stderr.write(`${s.label}: ${line}\n`);
  try {
    say(`emulator holding ${s.chunks} extra chunks ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const storageEnv = Object.fromEntries(Object.entries(emulator.settings).map(([k, v]) => [`DBK_${k.toUpperCase()}`, v]));
    const env = { ...storageEnv, DBK_DEFAULT_ODB_MAX_BATCH_REQUESTS: s.batch };
    const setupEnv = { ...storageEnv, DBK_DEFAULT_ODB_MAX_BATCH_REQUESTS: 'max' };
    const run = (cwd: string, args: string[], e: NodeJS.ProcessEnv = setupEnv) => timed(args.join(' '), cwd, args, '', e);

    // three revisions of the tree, each kept as it was
    const tree = path.join(work, 'tree');
    fs.mkdirSync(tree);
    const versions: Map<string, Buffer>[] = [];
    for (let v = 1; v <= REVISIONS; v++) {
      writeVersion(tree, v);
      if (v === 1) run(tree, ['init', '-c', '64K', SNAPSHOT_ID, URL_]);
      run(tree, ['backup']);
      versions.push(filesOf(tree));
    }
    const fakes = fakeChunks(s.chunks);
    const before = await storageFiles(emulator, work);
    const referenced = new Set([...before.chunks].filter((c) => !fakes.has(c)));
    if (before.chunks.size !== referenced.size + s.chunks || before.fossils.size > 0)
      throw new Error(`unexpected storage before the prune: ${before.chunks.size} chunks, ${before.fossils.size} fossils`);
    say(`${REVISIONS} revisions backed up: ${referenced.size} chunk files of theirs beside the ${s.chunks} unreferenced`);

    if (s.storm) await emulator.setKnobs(STORM);
    const steps: Step[] = [];
    const measure = async (step: Step['step'], args: string[], done: RegExp): Promise<void> => {
      await emulator.resetCounters();
      await emulator.collectGarbage();
      const load = loadAverage();
      const cpu0 = emulator.cpuMs();
      const m = timed(`${s.label} ${step}`, tree, args, '', env);
      const emulatorCpuS = (emulator.cpuMs() - cpu0) / 1000;
      const c = await emulator.counters();
      const count = Number(done.exec(m.output)?.[1]);
      if (count !== s.chunks) throw new Error(`${s.label} ${step}: ${count} instead of ${s.chunks}:\n${m.output}`);
      const r: Step = {
        scenario: s,
        step,
        command: m.command,
        seconds: m.seconds,
        peakMb: m.peakMb,
        requests: c.requests,
        inner: c.batchInner,
        throttled: c.throttled,
        emulatorCpuS,
        load,
        done: count,
      };
      steps.push(r);
      say(`${step}: ${r.seconds} s, ${r.peakMb.toFixed(0)} MB, ${r.requests} requests (${r.inner} inside batches, ${r.throttled} throttled), emulator CPU ${emulatorCpuS.toFixed(1)} s (load ${load})`);
    };
    const threads = ['--threads', o.threads];
    await measure('step 1', ['prune', '--exhaustive', '--collect-only', ...threads], /(\d+) chunks made fossils/);
    const middle = await storageFiles(emulator, work);
    sameSet(referenced, middle.chunks, 'chunk files after step 1');
    sameSet(fakes, middle.fossils, 'fossils after step 1');
    await measure('step 2', ['prune', '--delete-only', ...threads], /(\d+) chunks or fossils deleted/);
    const after = await storageFiles(emulator, work);
    sameSet(referenced, after.chunks, 'chunk files after step 2');
    sameSet(new Set(), after.fossils, 'fossils after step 2');

    // every byte of every revision
    run(tree, ['check', '-a', '--files', ...threads]);
    for (let v = 1; v <= REVISIONS; v++) {
      const dir = path.join(work, `restored-${v}`);
      fs.mkdirSync(dir);
      run(dir, ['init', SNAPSHOT_ID, URL_]);
      run(dir, ['restore', '-r', String(v), ...threads]);
      sameTree(versions[v - 1]!, filesOf(dir), `revision ${v} restored`);
    }
    const checked = `${referenced.size} chunk files kept, 0 fossils; check -a --files passed; revisions 1–${REVISIONS} restored byte for byte`;
    say(checked);
    return { scenario: s, steps, referenced: referenced.size, chunksAfter: after.chunks.size, fossilsAfter: after.fossils.size, checked };
  } finally {
    emulator.stop();
    if (!o.keep) fs.rmSync(work, { recursive: true, force: true });
    else say(`kept ${work}`);
  }
}

// ---- the table ----

function render(o: Options, outcomes: Outcome[]): string {
  const steps = outcomes.flatMap((x) => x.steps);
  const single = (step: Step['step']) => steps.find((r) => r.scenario.batch === 'off' && r.step === step);
  const lines = [
    `### Prune over odb:// (Graph emulator in its own process, ${o.latencyMs} ms a request), --threads ${o.threads}`,
    '',
    'Step 1: `dbk prune --exhaustive --collect-only` fossilizes the unreferenced chunks (listing chunks/ included); step 2: `dbk prune --delete-only` deletes them. ' +
      '"batched": `DBK_DEFAULT_ODB_MAX_BATCH_REQUESTS=max` (20 calls a `$batch`); "single": `off`, one request per chunk. ' +
      `Storm: every ${STORM.throttleEveryNth}th request 429 (Retry-After ${STORM.throttleRetryAfter} s), every ${STORM.innerThrottleEveryNth}th request inside a $batch 429 (Retry-After ${STORM.innerThrottleRetryAfter} s).`,
    '',
    '| run | chunks | step | wall s | speed-up vs single | peak RSS MB | HTTP requests | inside $batch | throttled | emulator CPU s | load at start |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of steps) {
    const s = single(r.step);
    // one request per chunk scales with the chunks: the single run's time per chunk, times these chunks
    const singleHere = s ? (s.seconds * r.scenario.chunks) / s.scenario.chunks : undefined;
    const speedUp = r.scenario.batch === 'off' || !s || r.scenario.storm ? '—' : `${(singleHere! / r.seconds).toFixed(1)}×${s.scenario.chunks === r.scenario.chunks ? '' : ' (single scaled)'}`;
    const cells = [
      r.scenario.label,
      r.scenario.chunks.toLocaleString('en-US'),
      r.step,
      r.seconds.toFixed(2),
      speedUp,
      r.peakMb.toFixed(0),
      r.requests,
      r.inner,
      r.throttled,
      r.emulatorCpuS.toFixed(1),
      r.load.toFixed(1),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
    if (r.scenario.batch === 'off' && r.scenario.chunks < o.chunks) {
      const scaled = (r.seconds * o.chunks) / r.scenario.chunks;
      lines.push(`| single, scaled linearly | ${o.chunks.toLocaleString('en-US')} | ${r.step} | ${scaled.toFixed(0)} (estimate) | — | — | — | — | — | — | — |`);
    }
  }
  lines.push('', 'After each run:', ...outcomes.map((x) => `- ${x.scenario.label} (${x.scenario.chunks.toLocaleString('en-US')}): ${x.checked}`));
  lines.push('', 'Commands (in the repository folder; odb_* settings in the environment):', ...[...new Set(steps.map((r) => `- \`${r.command.replace(/DBK_ODB_\S+ /g, '')}\``))]);
  return lines.join('\n');
}

// ---- main ----

async function main(): Promise<void> {
  const o = options();
  if (!fs.existsSync('/usr/bin/time')) throw new Error('/usr/bin/time not found: install the `time` package');
  const scenarios: Scenario[] = [];
  if (!o.stormOnly) {
    scenarios.push({ label: 'batched', chunks: o.chunks, batch: 'max', storm: false });
    if (o.singleChunks > 0 && o.singleChunks < o.chunks) scenarios.push({ label: 'batched', chunks: o.singleChunks, batch: 'max', storm: false });
    if (o.singleChunks > 0) scenarios.push({ label: 'single', chunks: o.singleChunks, batch: 'off', storm: false });
  }
  if (o.storm) scenarios.push({ label: 'batched, storm', chunks: o.stormChunks, batch: 'max', storm: true });
  const outcomes: Outcome[] = [];
  for (const s of scenarios) outcomes.push(await runScenario(o, s));
  console.log(render(o, outcomes));
}

main().catch((e: unknown) => {
  process.stderr.write(`odb-prune: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
