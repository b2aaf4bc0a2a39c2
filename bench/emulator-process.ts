// The Graph emulator as a separate process for benchmarks, so its CPU is not the measured
// process's (as with the real service): started with the given options, its certificate and a
// token file written to a work folder, its counters and CPU time read from outside.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type HttpRequest, HttpsTransport, NetworkError } from '../backends/onedrive/https-transport.js';
import type { Counters, FaultKnobs } from '../test/support/graph-emulator/faults.js';

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux architecture Node runs on */
const CLOCK_TICKS_PER_SECOND = 100;

export interface EmulatorProcess {
  /** https://127.0.0.1:PORT */
  url: string;
  /** the storage keys of an odb:// storage on this emulator (any bearer token is accepted) */
  settings: Record<string, string>;
  counters(): Promise<Counters>;
  resetCounters(): Promise<void>;
  /** changes fault knobs (e.g. a throttling storm) from now on */
  setKnobs(knobs: Partial<FaultKnobs>): Promise<void>;
  /** a full garbage collection in the emulator, so that none falls into a timed run */
  collectGarbage(): Promise<void>;
  /** the emulator's CPU time so far (Linux only; NaN elsewhere) */
  cpuMs(): number;
  stop(): void;
}

/** Starts the emulator with `args` (e.g. --latency-ms 30 --seed-dir DIR --root PATH) and waits until it serves. */
export async function startEmulatorProcess(work: string, args: string[]): Promise<EmulatorProcess> {
  const certFile = path.join(work, 'emulator.pem');
  const tokenFile = path.join(work, 'token.json');
  writeFileSync(tokenFile, JSON.stringify({ access_token: 'bench', refresh_token: 'bench', token_type: 'Bearer', expiry: '2999-01-01T00:00:00Z' }));
  const main = fileURLToPath(new URL('../test/support/graph-emulator/main.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', main, '--port', '0', '--cert-out', certFile, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let url: string;
  try {
    url = await listeningUrl(child);
  } catch (e) {
    child.kill();
    throw e;
  }
  const transport = new HttpsTransport({ caFile: certFile, maxSockets: 1, userAgent: 'dbk-bench' });
  // the emulator closes a connection idle for 65 s (a long timed run): a call that finds it closed goes again on a new one
  const control = { send: (req: HttpRequest) => transport.send(req).catch((e: unknown) => (e instanceof NetworkError ? transport.send(req) : Promise.reject(e))) };
  return {
    url,
    settings: { odb_token: tokenFile, odb_graph_url: url, odb_auth_url: url, odb_ca_file: certFile },
    counters: async () => JSON.parse((await control.send({ method: 'GET', url: `${url}/_emulator/counters` })).body.toString()) as Counters,
    resetCounters: async () => void (await control.send({ method: 'POST', url: `${url}/_emulator/counters/reset` })),
    setKnobs: async (knobs) => {
      const res = await control.send({ method: 'POST', url: `${url}/_emulator/knobs`, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(knobs)) });
      if (res.status !== 200) throw new Error(`the emulator refused the knobs: HTTP ${res.status} ${res.body.toString()}`);
    },
    collectGarbage: async () => {
      const res = await control.send({ method: 'POST', url: `${url}/_emulator/gc` });
      if (res.status !== 204) throw new Error(`the emulator's garbage collection failed: HTTP ${res.status}`);
    },
    cpuMs: () => processCpuMs(child.pid),
    stop: () => {
      transport.close();
      child.kill();
    },
  };
}

/** Waits for the emulator's "listening on URL" line. */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    lines.on('close', () => reject(new Error('the emulator exited before it listened')));
  });
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

/** The 1-minute load average, for the conditions of a measurement on a shared machine. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}
