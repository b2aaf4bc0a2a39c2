// Listing benchmark for odb://: lists chunks/ of a OneDrive that holds N chunk entries in the 256
// prefix folders, served by the Graph emulator in a separate process (so its CPU is not ours, as
// with the real service) with a fixed latency per request. Three ways:
//   threads 1, no batching    — page after page, as the established tool lists
//   threads 16                — the 256 folders and their pages in parallel
//   threads 16, $batch of 20  — and 20 GETs per request
// An untimed listing first fills the emulator's page cache (the service's CPU is not ours) and
// warms up this process. Prints a markdown table of wall time, this process's CPU time, and requests.
//
//   npx tsc -p . && node --expose-gc dist/bench/odb-list.js [--entries 1000000] [--latency-ms 30]
// (the serial run is timed once, the others three times: the median is reported)

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { odbConfig } from '../backends/onedrive/config.js';
import { HttpsTransport } from '../backends/onedrive/https-transport.js';
import { OneDriveBackend } from '../backends/onedrive/onedrive.js';
import { silentLogger } from '../src/log.js';
import { makeSettings } from '../src/settings.js';

interface Run {
  label: string;
  threads: number;
  batch: string;
}

interface Measured {
  ms: number;
  /** this process's CPU time */
  cpuMs: number;
  /** the emulator's CPU time (Linux only; NaN elsewhere) */
  emulatorCpuMs: number;
  requests: number;
  pages: number;
}

interface Counters {
  requests: number;
  byKind: Record<string, number>;
}

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux architecture Node runs on */
const CLOCK_TICKS_PER_SECOND = 100;

const RUNS: Run[] = [
  { label: 'serial (threads 1, no batching)', threads: 1, batch: 'off' },
  { label: 'threads 16', threads: 16, batch: 'off' },
  { label: 'threads 16, $batch of 20', threads: 16, batch: '20' },
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
  const certFile = path.join(work, 'emulator.pem');
  const emulatorMain = fileURLToPath(new URL('../test/support/graph-emulator/main.js', import.meta.url));
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [emulatorMain, '--port', '0', '--cert-out', certFile, '--latency-ms', values['latency-ms'], '--populate-chunks', String(entries), '--root', 'bench'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const url = await listeningUrl(child.stdout);
    process.stderr.write(`emulator with ${entries} entries ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const tokenFile = path.join(work, 'token.json');
    // the standalone emulator accepts any bearer token
    writeFileSync(tokenFile, JSON.stringify({ access_token: 'bench', refresh_token: 'bench', token_type: 'Bearer', expiry: '2999-01-01T00:00:00Z' }));
    const control = new HttpsTransport({ caFile: certFile, maxSockets: 1, userAgent: 'dbk-bench' });
    const measure = async (run: Run): Promise<Measured> => {
      const settings = makeSettings(
        'default',
        { odb_token: tokenFile, odb_graph_url: url, odb_auth_url: url, odb_ca_file: certFile, odb_max_batch_requests: run.batch },
        {},
      );
      const backend = new OneDriveBackend(odbConfig('odb://bench', settings, work), { threads: run.threads, log: silentLogger });
      await control.send({ method: 'POST', url: `${url}/_emulator/counters/reset` });
      (globalThis as { gc?: () => void }).gc?.(); // every run starts from the same heap (node --expose-gc)
      const emulatorCpu0 = processCpuMs(child.pid);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const listed = await backend.listTree('chunks', { threads: run.threads });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const emulatorCpuMs = processCpuMs(child.pid) - emulatorCpu0;
      await backend.close();
      const counters = JSON.parse((await control.send({ method: 'GET', url: `${url}/_emulator/counters` })).body.toString()) as Counters;
      if (listed.length !== entries) throw new Error(`${run.label}: listed ${listed.length} of ${entries} entries`);
      process.stderr.write(`${run.label}: ${(ms / 1000).toFixed(2)} s\n`);
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, emulatorCpuMs, requests: counters.requests, pages: counters.byKind.list ?? 0 };
    };
    await measure({ ...RUNS[2]!, label: 'warm-up' });
    const rows: string[] = [];
    let serialMs = 0;
    for (const run of values.only === undefined ? RUNS : [RUNS[Number(values.only)]!]) {
      // the serial run is long enough to average itself; the short ones report the median of three
      const tries: Measured[] = [];
      for (let i = 0; i < (run.threads === 1 ? 1 : 3); i++) tries.push(await measure(run));
      const m = tries.sort((a, b) => a.ms - b.ms)[Math.floor(tries.length / 2)]!;
      serialMs ||= m.ms;
      rows.push(`| ${run.label} | ${(m.ms / 1000).toFixed(2)} | ${(serialMs / m.ms).toFixed(1)}× | ${(m.cpuMs / 1000).toFixed(2)} | ${(m.emulatorCpuMs / 1000).toFixed(2)} | ${m.requests} | ${m.pages} | ${entries} |`);
    }
    control.close();
    console.log(`Listing chunks/ with ${entries} entries in 256 folders, ${values['latency-ms']} ms latency per request\n`);
    console.log('| listing | wall s | speed-up | client CPU s | emulator CPU s | HTTP requests | pages (list GETs) | entries |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) console.log(row);
  } finally {
    child.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

/** CPU time (user + system) of another process so far, from /proc (Linux); NaN where that is not available. */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are the 12th and 13th of them
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Waits for the emulator's "listening on URL" line. */
function listeningUrl(stdout: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    lines.on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    lines.on('close', () => reject(new Error('the emulator exited before it listened')));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`odb-list: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
