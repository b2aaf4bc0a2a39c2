// Listing benchmark for odb://: lists chunks/ of a OneDrive that holds N chunk entries in the 256
// prefix folders, served by the Graph emulator in a separate process (so its CPU is not ours, as
// with the real service) with a fixed latency per request. Three ways:
//   threads 1, no batching    — page after page, as the established tool lists
//   threads 16                — the 256 folders and their pages in parallel
//   threads 16, $batch of 20  — and 20 GETs per request
// each counting the files it is handed; and the batched one again keeping what check and prune
// keep of each file (its id as 32 bytes, its size: ListedChunks).
// An untimed listing first fills the emulator's page cache (the service's CPU is not ours) and
// warms up this process. Prints a markdown table of wall time, this process's and the emulator's CPU
// time, requests, and the load average when each run started (the machine may be shared).
//
//   npx tsc -p . && node --expose-gc dist/bench/odb-list.js [--entries 1000000] [--latency-ms 30]
// (the serial run is timed once, the others three times: the median is reported)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { odbConfig } from '../backends/onedrive/config.js';
import { OneDriveBackend } from '../backends/onedrive/onedrive.js';
import { ListedChunks } from '../src/catalog/listed-chunks.js';
import { silentLogger } from '../src/log.js';
import { makeSettings } from '../src/settings.js';
import { loadAverage, startEmulatorProcess } from './emulator-process.js';

interface Run {
  label: string;
  threads: number;
  batch: string;
  /** what is kept of each file: nothing (the entries are counted), or what check and prune keep */
  keep: 'count' | 'chunk ids';
}

interface Measured {
  ms: number;
  /** this process's CPU time */
  cpuMs: number;
  /** the emulator's CPU time (Linux only; NaN elsewhere) */
  emulatorCpuMs: number;
  requests: number;
  pages: number;
  /** 1-minute load average when it started */
  load: number;
}

const RUNS: Run[] = [
  { label: 'serial (threads 1, no batching)', threads: 1, batch: 'off', keep: 'count' },
  { label: 'threads 16', threads: 16, batch: 'off', keep: 'count' },
  { label: 'threads 16, $batch of 20', threads: 16, batch: '20', keep: 'count' },
  { label: "threads 16, $batch of 20, keeping check's chunk ids", threads: 16, batch: '20', keep: 'chunk ids' },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000000' },
      'latency-ms': { type: 'string', default: '30' },
      // e.g. --only 2 to profile the batched listing alone (the speed-up is then against it)
      only: { type: 'string' },
    },
  });
  const entries = Number(values.entries);
  const work = mkdtempSync(path.join(tmpdir(), 'dbk-odb-bench-'));
  const started = Date.now();
  const emulator = await startEmulatorProcess(work, ['--latency-ms', values['latency-ms'], '--populate-chunks', String(entries), '--root', 'bench']);
  try {
    process.stderr.write(`emulator with ${entries} entries ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const measure = async (run: Run): Promise<Measured> => {
      const settings = makeSettings('default', { ...emulator.settings, odb_max_batch_requests: run.batch }, {});
      const backend = new OneDriveBackend(odbConfig('odb://bench', settings, work), { threads: run.threads, log: silentLogger });
      await emulator.resetCounters();
      // every run starts from settled heaps: the emulator's holds a million items, and a full
      // collection of it during a run would take a second of the CPU the client needs
      await emulator.collectGarbage();
      (globalThis as { gc?: () => void }).gc?.(); // and this process's from the same heap (node --expose-gc)
      const load = loadAverage();
      const emulatorCpu0 = emulator.cpuMs();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const ids = new ListedChunks(); // what check and prune keep of a listing
      let counted = 0;
      await backend.listTree('chunks', { threads: run.threads }, run.keep === 'count' ? (_folder, files) => (counted += files.length) : ids.add);
      const count = run.keep === 'count' ? counted : ids.count;
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const emulatorCpuMs = emulator.cpuMs() - emulatorCpu0;
      await backend.close();
      const counters = await emulator.counters();
      if (count !== entries) throw new Error(`${run.label}: listed ${count} of ${entries} entries`);
      process.stderr.write(`${run.label}: ${(ms / 1000).toFixed(2)} s (load ${load})\n`);
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, emulatorCpuMs, requests: counters.requests, pages: counters.byKind.list ?? 0, load };
    };
    await measure({ ...RUNS[2]!, label: 'warm-up' });
    const rows: string[] = [];
    let serialMs = 0;
    for (const run of values.only === undefined ? RUNS : [RUNS[Number(values.only)]!]) {
      // the serial run is long enough to average itself; the short ones report the median of three
      const tries: Measured[] = [];
      for (let i = 0; i < (run.threads === 1 ? 1 : 3); i++) tries.push(await measure(run));
      const m = [...tries].sort((a, b) => a.ms - b.ms)[Math.floor(tries.length / 2)]!;
      serialMs ||= m.ms;
      const cells = [
        run.label,
        (m.ms / 1000).toFixed(2),
        `${(serialMs / m.ms).toFixed(1)}×`,
        (m.cpuMs / 1000).toFixed(2),
        (m.emulatorCpuMs / 1000).toFixed(2),
        m.requests,
        m.pages,
        tries.map((t) => t.load.toFixed(1)).join(', '),
      ];
      rows.push(`| ${cells.join(' | ')} |`);
    }
    console.log(`Listing chunks/ with ${entries} entries in 256 folders, ${values['latency-ms']} ms latency per request\n`);
    console.log('| listing | wall s | speed-up | client CPU s | emulator CPU s | HTTP requests | pages (list GETs) | load at start |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const row of rows) console.log(row);
  } finally {
    emulator.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`odb-list: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
