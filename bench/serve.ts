// `dbk serve` on a large revision: how long a WebDAV client and the console wait, and how much
// memory the server takes meanwhile.
//
//   npm run --silent bench:serve -- [--files 50000] [--big-mib 1024] [--threads N] [--keep]
//
// In a new folder under /tmp (removed at the end unless --keep), a repository holds many/ with
// --files small files (64 B to 4 KiB of random bytes each) and big/big.bin, --big-mib MiB of random
// bytes written 4 MiB at a time. The built CLI (dist/src/cli/main.js) runs `init -e` on a local
// storage and `backup` under /usr/bin/time, then `serve -listen 127.0.0.1:0 -read-only` in a
// process of its own, which this one reads the URL and token from and then asks, as a client would:
//   PROPFIND many/ (Depth 1)   first: the browse index of the revision is built; then again
//   GET big.bin's last MiB      one Range request: first (chunks read from the storage), then again
//                               (decoded chunks in the server's cache); its bytes checked
//   /api/tree?…&limit=1000      the console's first page of many/ (the index already built)
// Each step: its wall time (to the last byte of the response) and time to the first (the headers),
// and the server's peak RSS during it (VmHWM of /proc/<pid>/status, reset before each step by
// writing 5 to /proc/<pid>/clear_refs; where that is refused, RSS sampled every 20 ms instead).
// Prints a markdown table and the load average (/proc/loadavg) before and after.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cliNodeOptions } from '../test/support/cli-node-options.js';
import { mustExec } from './child-process.js';
import { timedAsync } from './timed-cli.js';

const USAGE = 'usage: npm run --silent bench:serve -- [--files N] [--big-mib N] [--threads N] [--keep]';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MiB = 1 << 20;
const ID = 'bench';
const STORAGE = 'default';
const PASSWORD = 'bench';

interface Options {
  files: number;
  bigMiB: number;
  threads: number;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      files: { type: 'string', default: '50000' },
      'big-mib': { type: 'string', default: '1024' },
      threads: { type: 'string', default: '4' },
      keep: { type: 'boolean', default: false },
    },
  });
  const o = { files: Number(values.files), bigMiB: Number(values['big-mib']), threads: Number(values.threads), keep: values.keep };
  if (![o.files, o.bigMiB, o.threads].every((n) => Number.isInteger(n) && n >= 1)) throw new Error(USAGE);
  return o;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();

/** many/ of small files and big/big.bin, written a block at a time: the big file is never in memory. */
function makeCorpus(root: string, o: Options): void {
  const pool = randomBytes(4 * MiB);
  mkdirSync(path.join(root, 'many'), { recursive: true });
  for (let i = 0; i < o.files; i++) {
    const size = 64 + ((i * 2_654_435_761) % 4033);
    const at = (i * 40_503) % (pool.length - size);
    writeFileSync(path.join(root, 'many', `file-${String(i).padStart(6, '0')}.bin`), pool.subarray(at, at + size));
  }
  mkdirSync(path.join(root, 'big'));
  const fd = openSync(path.join(root, 'big', 'big.bin'), 'w');
  try {
    const block = Buffer.allocUnsafe(4 * MiB);
    for (let left = o.bigMiB * MiB; left > 0; left -= block.length) writeSync(fd, randomFillSync(block), 0, Math.min(left, block.length));
  } finally {
    closeSync(fd);
  }
}

/** The last `length` bytes of a file, read from disk: what the Range request must answer. */
function tailOf(file: string, size: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, out, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return out;
}

interface Server {
  child: ChildProcess;
  baseUrl: string;
  token: string;
}

/** `dbk serve` in a process of its own; resolves once it printed its URL. */
function startServe(repo: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, [...cliNodeOptions(CLI), CLI, 'serve', '--listen', '127.0.0.1:0', '--read-only'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`dbk serve exited (${code}):\n${stderr}`)));
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /open (http:\/\/\S+)\?token=(\S+)/.exec(stdout);
      if (m) resolve({ child, baseUrl: m[1]!, token: m[2]! });
    });
  });
}

/** Peak RSS of a process over a stretch of time, in MB. */
class PeakRss {
  private sampled = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly exact: boolean;

  constructor(private readonly pid: number) {
    this.exact = this.reset();
  }

  /** Starts a stretch: the kernel's high-water mark reset, or sampling started. */
  start(): void {
    if (this.exact && this.reset()) return;
    this.sampled = this.field('VmRSS');
    this.timer = setInterval(() => (this.sampled = Math.max(this.sampled, this.field('VmRSS'))), 20);
  }

  stop(): number {
    if (!this.timer) return this.field('VmHWM') / 1024;
    clearInterval(this.timer);
    this.timer = undefined;
    return Math.max(this.sampled, this.field('VmRSS')) / 1024;
  }

  /** the high-water mark since the process started (before any reset) */
  sinceStart = () => this.field('VmHWM') / 1024;

  private reset(): boolean {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  }

  /** a field of /proc/<pid>/status in kB */
  private field(name: string): number {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  }
}

interface Row {
  step: string;
  seconds: number;
  firstByteSeconds: number;
  peakMb: number;
  what: string;
}

async function main(): Promise<void> {
  const o = options();
  const work = mkdtempSync('/tmp/dbk-bench-serve-');
  const repo = path.join(work, 'repo');
  const env: NodeJS.ProcessEnv = { ...process.env, DBK_PASSWORD: PASSWORD };
  for (const key of Object.keys(env)) if (key.startsWith('DBK_') && key !== 'DBK_PASSWORD') delete env[key];
  const rows: Row[] = [];
  let server: Server | undefined;
  console.error(`load average at the start: ${loadavg()}`);
  try {
    let t = performance.now();
    makeCorpus(repo, o);
    console.error(`corpus: ${o.files} files in many/ and ${o.bigMiB} MiB in big/big.bin, made in ${((performance.now() - t) / 1000).toFixed(1)} s in ${work}`);
    await mustExec(process.execPath, [CLI, 'init', '-e', ID, path.join(work, 'storage')], { cwd: repo, env });
    const backup = await timedAsync('backup', repo, ['backup', '--threads', String(o.threads)], '', { DBK_PASSWORD: PASSWORD });
    rows.push({ step: 'backup (CLI, for scale)', seconds: backup.seconds, firstByteSeconds: Number.NaN, peakMb: backup.peakMb, what: `${o.files + 1} files, ${o.bigMiB} MiB + small files` });

    t = performance.now();
    server = await startServe(repo, env);
    const peak = new PeakRss(server.child.pid!);
    const started = { seconds: (performance.now() - t) / 1000, peakMb: peak.sinceStart() };
    rows.push({ step: '`dbk serve` up (storage opened)', seconds: started.seconds, firstByteSeconds: Number.NaN, peakMb: started.peakMb, what: 'from spawn to its URL printed' });
    const headers = { authorization: `Bearer ${server.token}` };
    const dav = `${server.baseUrl}dav/${STORAGE}/${ID}/1`;

    const step = async (name: string, request: () => Promise<Response>, check: (body: Buffer, res: Response) => string) => {
      peak.start();
      const t0 = performance.now();
      const res = await request();
      const firstByte = performance.now();
      const body = Buffer.from(await res.arrayBuffer());
      const end = performance.now();
      const peakMb = peak.stop();
      const what = check(body, res);
      rows.push({ step: name, seconds: (end - t0) / 1000, firstByteSeconds: (firstByte - t0) / 1000, peakMb, what });
      console.error(`${name}: ${((end - t0) / 1000).toFixed(3)} s, ${peakMb.toFixed(0)} MB (${what})`);
    };

    const propfind = () => fetch(`${dav}/many/`, { method: 'PROPFIND', headers: { ...headers, depth: '1' } });
    const listed = (body: Buffer, res: Response) => {
      const n = body.toString('utf8').split('<D:response>').length - 1;
      if (res.status !== 207 || n !== o.files + 1) throw new Error(`PROPFIND answered ${res.status} with ${n} entries, not ${o.files + 1}`);
      return `${n} responses, ${(body.length / 1e6).toFixed(1)} MB of XML`;
    };
    await step('PROPFIND many/ Depth 1, first (builds the index)', propfind, listed);
    await step('PROPFIND many/ Depth 1, again', propfind, listed);

    const size = o.bigMiB * MiB;
    const tail = tailOf(path.join(repo, 'big', 'big.bin'), size, MiB);
    const lastMiB = () => fetch(`${dav}/big/big.bin`, { headers: { ...headers, range: `bytes=${size - MiB}-${size - 1}` } });
    const sameTail = (body: Buffer, res: Response) => {
      if (res.status !== 206 || !body.equals(tail)) throw new Error(`the last MiB of big.bin came back wrong (${res.status}, ${body.length} bytes)`);
      return `206, ${res.headers.get('content-range')}, bytes checked`;
    };
    await step('GET big.bin last MiB (Range), first', lastMiB, sameTail);
    await step('GET big.bin last MiB (Range), again', lastMiB, sameTail);

    const tree = () => fetch(`${server!.baseUrl}api/tree?storage=${STORAGE}&id=${ID}&r=1&path=many&limit=1000`, { headers });
    await step('console /api/tree many/ limit=1000, first page', tree, (body, res) => {
      const page = JSON.parse(body.toString('utf8')) as { total: number; entries: unknown[] };
      if (res.status !== 200 || page.total !== o.files || page.entries.length !== 1000) throw new Error(`/api/tree answered ${res.status}: ${body.toString('utf8').slice(0, 200)}`);
      return `${page.entries.length} of ${page.total} entries, ${(body.length / 1e3).toFixed(0)} kB of JSON`;
    });
    rows.push({
      step: 'server overall',
      seconds: Number.NaN,
      firstByteSeconds: Number.NaN,
      peakMb: Math.max(...rows.slice(1).map((r) => r.peakMb)),
      what: peak.exact ? 'peak RSS: VmHWM per step' : 'peak RSS: sampled every 20 ms',
    });
  } finally {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((resolve) => server!.child.once('exit', resolve));
      server.child.kill('SIGINT');
      await exited;
    }
    if (o.keep) console.error(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  const s = (n: number) => (Number.isNaN(n) ? '' : n.toFixed(3));
  console.log(`\n### dbk serve: ${o.files} files in one folder, one ${o.bigMiB} MiB file (encrypted local storage, 4 MiB chunks)\n`);
  console.log('| step | wall s | first byte s | server peak RSS MB | what |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.step} | ${s(r.seconds)} | ${s(r.firstByteSeconds)} | ${r.peakMb.toFixed(0)} | ${r.what} |`);
  console.log(`\nload average at the end: ${loadavg()}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
