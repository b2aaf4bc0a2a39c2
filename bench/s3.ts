// Issue 16's benchmark: dbk on S3, in two parts.
// (a) Listing: bench/s3-list-server.ts, in a process of its own, holds --objects chunk keys
//     (chunks/<2 hex>/<62 hex> in the 256 prefix folders) and answers each ListObjectsV2 after
//     --latency-ms; S3Backend.listTree() lists chunks/ at threads 1 (serial: folder after folder,
//     page after page) and threads 16 (16 folders at once), counting the files it is handed.
//     First the server is checked against S3Backend.list() and one listing's per-folder counts,
//     untimed. The serial listing is timed once, the parallel one --runs times (the median shown).
// (b) Backup and restore of the `small` corpus (bench/make-corpus.ts) to a local folder and to
//     s3+http:// on moto_server (test/support/moto.ts), each run of the built CLI under
//     /usr/bin/time with the node options of its #! line; each restore compared with the corpus by
//     diff -r. moto's CPU is read from /proc apart. Skipped, with a message, without moto_server.
// Prints markdown tables (also saved to WORK/s3/results.md) and the load average at the start.
//
// usage: npm run bench:s3 -- [--objects N] [--latency-ms N] [--runs N] [--work DIR] [--scale F] [--threads N]
//   --objects     chunk keys to list (default 1000000)
//   --latency-ms  the list server's latency per request (default 30)
//   --runs        timed parallel listings, and backup/restore rounds (default 3)
//   --work        corpus, storages, restores and logs (default $DBK_BENCH_WORK, else /tmp/dbk-bench);
//                 the corpus is made once in WORK/corpus/small-F, as bench/sftp.ts makes it, and reused
//   --scale       scale of the small corpus (default 0.3: 30,000 files, ~260 MB; moto is slow)
//   --threads     dbk's -threads for backup and restore (default 4)
//
// moto is reached through a TCP relay in this process (test/support/moto.ts), so nothing here
// blocks the event loop while dbk runs: every command is spawned and awaited.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { s3Config } from '../backends/s3/config.js';
import { S3Backend } from '../backends/s3/s3.js';
import { makeSettings } from '../src/settings.js';
import { cliNodeOptions } from '../test/support/cli-node-options.js';
import { chunkPath } from '../test/support/graph-emulator/populate.js';
import { MOTO_KEYS, MOTO_PATH, type Moto, startMoto } from '../test/support/moto.js';
import { exec, mustExec } from './child-process.js';
import { fileBytes, smallCorpus } from './small-corpus.js';

const USAGE = 'usage: npm run bench:s3 -- [--objects N] [--latency-ms N] [--runs N] [--work DIR] [--scale F] [--threads N]';
const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const CLI = path.join(here, '../src/cli/main.js');
const LIST_SERVER = path.join(here, 's3-list-server.js');
const TIMEFMT = '{"wall_s":%e,"user_s":%U,"sys_s":%S,"max_rss_kb":%M}';
const [SERIAL, PARALLEL] = [1, 16];
const MB = 1e6;
/** the list server's bucket and prefix (its defaults) */
const [LIST_BUCKET, LIST_PREFIX] = ['bench', 'dbk'];
/** USER_HZ of /proc/<pid>/stat */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Options {
  objects: number;
  latencyMs: number;
  runs: number;
  work: string;
  /** as given, for the corpus folder's name (shared with bench/sftp.ts and bench/core.sh) */
  scale: string;
  threads: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      objects: { type: 'string', default: '1000000' },
      'latency-ms': { type: 'string', default: '30' },
      runs: { type: 'string', default: '3' },
      work: { type: 'string', default: process.env.DBK_BENCH_WORK ?? '/tmp/dbk-bench' },
      scale: { type: 'string', default: '0.3' },
      threads: { type: 'string', default: '4' },
    },
  });
  const o = {
    objects: Number(values.objects),
    latencyMs: Number(values['latency-ms']),
    runs: Number(values.runs),
    work: path.resolve(values.work),
    scale: values.scale,
    threads: Number(values.threads),
  };
  if (!(Number(o.scale) > 0) || !(o.latencyMs >= 0) || ![o.objects, o.runs, o.threads].every((n) => Number.isInteger(n) && n >= 1)) throw new Error(USAGE);
  return o;
}

// ---- processes ----

/** CPU seconds (user + system, and its reaped children's) of another process so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / CLK_TCK; // utime stime cutime cstime
}

const loadAverages = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const load1 = () => Number(loadAverages().split(' ')[0]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---- (a) listing ----

interface ListServer {
  url: string;
  pid: number;
  counters(): Promise<{ requests: number; pages: number }>;
  reset(): Promise<void>;
  stop(): void;
}

async function startListServer(o: Options): Promise<ListServer> {
  const child = spawn(process.execPath, [LIST_SERVER, '--objects', String(o.objects), '--latency-ms', String(o.latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await listeningOn(child).catch((e: unknown) => {
    child.kill();
    throw e;
  });
  return {
    url: `s3+http://${endpoint.slice('http://'.length)}/${LIST_BUCKET}/${LIST_PREFIX}`,
    pid: child.pid!,
    counters: async () => (await fetch(`${endpoint}/_bench/counters`)).json() as Promise<{ requests: number; pages: number }>,
    reset: async () => void (await fetch(`${endpoint}/_bench/reset`, { method: 'POST' })).body?.cancel(),
    stop: () => child.kill(),
  };
}

/** Waits for the server's "listening on URL" line (after it has made its keys). */
function listeningOn(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    lines.on('close', () => reject(new Error('the s3 list server exited before it listened')));
  });
}

/** An S3Backend on the list server; it checks no signature, so any keys do. */
function listBackend(server: ListServer, threads: number): S3Backend {
  const settings = makeSettings('default', { s3_access_key_id: 'bench', s3_secret_access_key: 'bench', s3_region: 'us-east-1' }, {});
  return new S3Backend(s3Config(server.url, settings, '/'), { threads });
}

/**
 * What the list server must hold, as the same generator makes it: the files in each chunk folder,
 * and every name in one of them (the first key's), not all million (garbage for the timed runs).
 */
function expectedChunks(objects: number): { counts: Map<string, number>; folder: string; names: string[] } {
  const counts = new Map<string, number>();
  const folder = chunkPath(0).split('/')[1]!;
  const names: string[] = [];
  for (let i = 0; i < objects; i++) {
    const [, f, name] = chunkPath(i).split('/') as [string, string, string];
    counts.set(f, (counts.get(f) ?? 0) + 1);
    if (f === folder) names.push(name);
  }
  return { counts, folder, names: names.sort() };
}

function mustEqual(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`s3 list server: ${what}: got ${JSON.stringify(got).slice(0, 300)}, want ${JSON.stringify(want).slice(0, 300)}`);
}

/**
 * The list server against the client, untimed: S3Backend.list() of the root, of chunks/ and of
 * one folder (every name, in order); start-after and max-keys through the SDK; and one parallel
 * listTree() whose per-folder counts must be the generator's.
 */
async function checkListServer(server: ListServer, objects: number): Promise<void> {
  const { counts, folder, names } = expectedChunks(objects);
  const backend = listBackend(server, PARALLEL);
  try {
    mustEqual('list of the root', await backend.list(''), [{ name: 'chunks', size: 0, dir: true }]);
    mustEqual(
      'list of chunks/',
      (await backend.list('chunks')).map((e) => `${e.name}${e.dir ? '/' : ''}`),
      [...counts.keys()].sort().map((f) => `${f}/`),
    );
    mustEqual(
      `list of chunks/${folder}`,
      (await backend.list(`chunks/${folder}`)).map((e) => e.name),
      names,
    );
    await checkStartAfter(server, folder, names);
    const listed = new Map<string, number>();
    await backend.listTree('chunks', { threads: PARALLEL }, (f, files) => listed.set(f, (listed.get(f) ?? 0) + files.length));
    mustEqual('files a folder in listTree', [...listed].sort(), [...counts].sort());
  } finally {
    await backend.close();
  }
}

/** start-after and max-keys, which S3Backend does not send: the SDK's ListObjectsV2 directly. */
async function checkStartAfter(server: ListServer, folder: string, names: string[]): Promise<void> {
  if (names.length < 16) return;
  const endpoint = `http://${server.url.split('/')[2]}`;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  try {
    const prefix = `${LIST_PREFIX}/chunks/${folder}/`;
    const out = await client.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET, Prefix: prefix, StartAfter: `${prefix}${names[9]}`, MaxKeys: 5 }));
    mustEqual('start-after and max-keys', [out.KeyCount, out.IsTruncated, out.Contents?.map((c) => c.Key)], [5, true, names.slice(10, 15).map((n) => `${prefix}${n}`)]);
  } finally {
    client.destroy();
  }
}

interface Listed {
  seconds: number;
  /** this process's CPU */
  cpu: number;
  serverCpu: number;
  requests: number;
  pages: number;
  load: number;
}

/** One timed listTree() of chunks/ at `threads`, counting the files it is handed. */
async function timeListing(server: ListServer, threads: number, objects: number): Promise<Listed> {
  const backend = listBackend(server, threads);
  await server.reset();
  const [load, serverCpu0, cpu0, t0] = [load1(), cpuSeconds(server.pid), process.cpuUsage(), performance.now()];
  let files = 0;
  await backend.listTree('chunks', { threads }, (_folder, found) => (files += found.length));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = cpuSeconds(server.pid) - serverCpu0;
  await backend.close();
  if (files !== objects) throw new Error(`listTree at threads ${threads} listed ${files} files of ${objects}`);
  const { requests, pages } = await server.counters();
  console.error(`listing at threads ${threads}: ${seconds.toFixed(2)} s, ${requests} requests (load ${load})`);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, serverCpu, requests, pages, load };
}

async function listingPart(o: Options): Promise<string[]> {
  const started = performance.now();
  const server = await startListServer(o);
  try {
    console.error(`s3 list server with ${o.objects} keys ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await checkListServer(server, o.objects);
    const serial = [await timeListing(server, SERIAL, o.objects)];
    const parallel: Listed[] = [];
    for (let run = 0; run < o.runs; run++) parallel.push(await timeListing(server, PARALLEL, o.objects));
    return listingTable(o, serial, parallel);
  } finally {
    server.stop();
  }
}

function listingTable(o: Options, serial: Listed[], parallel: Listed[]): string[] {
  const serialSeconds = median(serial.map((r) => r.seconds));
  const row = (label: string, runs: Listed[]) => {
    const m = runs.find((r) => r.seconds === median(runs.map((x) => x.seconds)))!;
    const cells = [label, runs.length, m.seconds.toFixed(2), `${(serialSeconds / m.seconds).toFixed(1)}×`, m.cpu.toFixed(2), m.serverCpu.toFixed(2), m.requests, m.pages];
    return `| ${[...cells, runs.map((r) => r.load.toFixed(1)).join(', ')].join(' | ')} |`;
  };
  return [
    `### Listing ${o.objects} objects in chunks/ (256 folders) through S3Backend.listTree(), ${o.latencyMs} ms a request`,
    '',
    'Each row: the median of its runs. Client CPU s is this process (the listing); server CPU s the list server.',
    '',
    '| listing | runs | wall s | speed-up | client CPU s | server CPU s | requests | pages | load at start |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    row(`serial (threads ${SERIAL})`, serial),
    row(`parallel prefixes (threads ${PARALLEL})`, parallel),
  ];
}

// ---- (b) backup and restore ----

/** Why moto_server cannot run here, or undefined. */
function motoMissing(): string | undefined {
  try {
    execFileSync(MOTO_PATH, ['--help'], { stdio: 'ignore', timeout: 30_000 });
    return undefined;
  } catch {
    return `${MOTO_PATH} not found: install moto[server] (pip install 'moto[server]==5.2.*') to measure backup and restore over s3+http://`;
  }
}

/** Bytes in the objects of a bucket, as moto lists them. */
async function bucketBytes(moto: Moto, bucket: string): Promise<number> {
  const client = new S3Client({
    endpoint: moto.endpoint,
    forcePathStyle: true,
    region: MOTO_KEYS.s3_region,
    credentials: { accessKeyId: MOTO_KEYS.s3_access_key_id, secretAccessKey: MOTO_KEYS.s3_secret_access_key },
  });
  let [bytes, token] = [0, undefined as string | undefined];
  try {
    do {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
      for (const c of out.Contents ?? []) bytes += c.Size ?? 0;
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return bytes;
}

/** moto_server's process: the child this process gained while starting it (the pyenv shim execs into it). */
async function startMotoWithPid(): Promise<{ moto: Moto; pid: number }> {
  const children = () => new Set(readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  const before = children();
  const moto = await startMoto();
  const pid = [...children()].find((p) => !before.has(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('moto_server'));
  if (pid === undefined) {
    await moto.close();
    throw new Error('moto_server started, but its process was not found among this process’s children');
  }
  return { moto, pid };
}

interface Timed {
  wall: number;
  cpu: number;
  rssMb: number;
  motoCpu?: number;
  load: number;
  stdout: string;
}

const NODE_OPTIONS_OF_CLI = cliNodeOptions(CLI);

/** dbk `args` in `cwd` under /usr/bin/time, as `dbk` on the PATH runs; its log to `log`; moto's CPU meanwhile when given. */
async function timedDbk(args: string[], cwd: string, log: string, env: NodeJS.ProcessEnv, motoPid?: number): Promise<Timed> {
  await mustExec('sync', []);
  const [load, moto0] = [load1(), motoPid === undefined ? 0 : cpuSeconds(motoPid)];
  const r = await exec('/usr/bin/time', ['-o', `${log}.time`, '-f', TIMEFMT, process.execPath, ...NODE_OPTIONS_OF_CLI, CLI, ...args], { cwd, env, stderrTo: log });
  if (r.code !== 0) throw new Error(`dbk ${args.join(' ')} failed (exit ${r.code}) in ${cwd}:\n${readFileSync(log, 'utf8').slice(-3000)}`);
  const motoCpu = motoPid === undefined ? undefined : cpuSeconds(motoPid) - moto0;
  const m = JSON.parse(readFileSync(`${log}.time`, 'utf8').trim().split('\n').at(-1) ?? '') as { wall_s: number; user_s: number; sys_s: number; max_rss_kb: number };
  return { wall: m.wall_s, cpu: m.user_s + m.sys_s, rssMb: (m.max_rss_kb * 1024) / MB, load, stdout: r.stdout, ...(motoCpu === undefined ? {} : { motoCpu }) };
}

interface Round {
  backup: Timed;
  restore: Timed;
  storedMb: number;
  files: number;
  verdict: string;
}

interface Storage {
  kind: 'local' | 's3';
  url: string;
  storedBytes(): Promise<number>;
  motoPid?: number;
}

/** Backs the corpus up to a fresh storage, restores it into a fresh folder and compares the two. */
async function backupAndRestore(o: Options, corpus: string, storage: Storage, env: NodeJS.ProcessEnv, run: number): Promise<Round> {
  const base = path.join(o.work, 's3', `run-${storage.kind}`);
  const [repo, restored] = [path.join(base, 'repo'), path.join(base, 'restored')];
  const logs = path.join(o.work, 's3', 'logs');
  for (const dir of [repo, restored, logs]) mkdirSync(dir, { recursive: true });
  const threads = ['--threads', String(o.threads)];
  await mustExec(process.execPath, [CLI, 'init', '-e', '--repository', corpus, 'bench', storage.url], { cwd: repo, env });
  const backup = await timedDbk(['backup', ...threads, '--json'], repo, path.join(logs, `backup-${storage.kind}-${run}.log`), env, storage.motoPid);
  const storedMb = (await storage.storedBytes()) / MB;
  await mustExec(process.execPath, [CLI, 'init', 'bench', storage.url], { cwd: restored, env });
  const restore = await timedDbk(['restore', '-r', '1', ...threads, '--json'], restored, path.join(logs, `restore-${storage.kind}-${run}.log`), env, storage.motoPid);
  const diff = await exec('diff', ['-r', '--no-dereference', '-x', '.dbk', corpus, restored]);
  const verdict = diff.code === 0 ? 'byte-identical (diff -r)' : `DIFFERS: ${diff.stdout.split('\n').slice(0, 3).join('; ')}${diff.stderr}`;
  console.error(`run ${run}: ${storage.kind}: backup ${backup.wall} s, restore ${restore.wall} s, ${verdict}`);
  rmSync(base, { recursive: true, force: true });
  return { backup, restore, storedMb, files: (JSON.parse(backup.stdout) as { files: number }).files, verdict };
}

async function backupPart(o: Options): Promise<string[]> {
  const corpus = await smallCorpus(o);
  const [files, bytes] = [Number((await mustExec('bash', ['-c', 'find "$1" -type f | wc -l', 'count', corpus])).trim()), await fileBytes(corpus)];
  // every step reads the corpus from the page cache, not only the ones after the first
  await mustExec('bash', ['-c', 'find "$1" -type f -print0 | xargs -0 -r cat >/dev/null', 'warm', corpus]);
  const { moto, pid } = await startMotoWithPid();
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DBK_PASSWORD: 'bench',
      DBK_S3_ACCESS_KEY_ID: MOTO_KEYS.s3_access_key_id,
      DBK_S3_SECRET_ACCESS_KEY: MOTO_KEYS.s3_secret_access_key,
      DBK_S3_REGION: MOTO_KEYS.s3_region,
    };
    const rounds: Record<Storage['kind'], Round[]> = { local: [], s3: [] };
    for (let run = 1; run <= o.runs; run++) {
      // alternate the order, so that neither storage always comes first
      for (const kind of run % 2 ? (['local', 's3'] as const) : (['s3', 'local'] as const)) {
        rmSync(path.join(o.work, 's3', `run-${kind}`), { recursive: true, force: true });
        rounds[kind].push(await backupAndRestore(o, corpus, await storageFor(o, kind, moto, pid), env, run));
      }
    }
    return backupTable(o, files, bytes, rounds);
  } finally {
    await moto.close();
  }
}

async function storageFor(o: Options, kind: Storage['kind'], moto: Moto, motoPid: number): Promise<Storage> {
  if (kind === 'local') {
    const dir = path.join(o.work, 's3', 'run-local', 'storage');
    return { kind, url: dir, storedBytes: () => fileBytes(dir) };
  }
  const bucket = await moto.newBucket();
  return { kind, url: `s3+http://${moto.endpoint.slice('http://'.length)}/${bucket}/dbk`, storedBytes: () => bucketBytes(moto, bucket), motoPid };
}

function backupTable(o: Options, files: number, bytes: number, rounds: Record<Storage['kind'], Round[]>): string[] {
  const runs = (rs: Round[], f: (r: Round) => string) => rs.map(f).join(' / ');
  const row = (step: 'backup' | 'restore', kind: Storage['kind']) => {
    const rs = rounds[kind];
    const cells = [
      step,
      kind === 's3' ? 's3+http:// (moto)' : 'local',
      runs(rs, (r) => r[step].wall.toFixed(1)),
      runs(rs, (r) => r[step].cpu.toFixed(1)),
      runs(rs, (r) => (r[step].motoCpu === undefined ? '—' : r[step].motoCpu.toFixed(1))),
      runs(rs, (r) => r[step].rssMb.toFixed(0)),
      step === 'backup' ? runs(rs, (r) => r.storedMb.toFixed(1)) : '—',
      runs(rs, (r) => r[step].load.toFixed(1)),
      step === 'backup' ? [...new Set(rs.map((r) => `${r.files} files`))].join('; ') : [...new Set(rs.map((r) => r.verdict))].join('; '),
    ];
    return `| ${cells.join(' | ')} |`;
  };
  return [
    `### Backup and restore of the small corpus, scale ${o.scale}: ${files} files, ${(bytes / MB).toFixed(0)} MB`,
    '',
    `dbk with --threads ${o.threads}, as \`dbk\` runs (the node options of its #! line); each cell lists the ${o.runs} runs in order (local first in odd runs, s3 first in even ones).`,
    "CPU s and peak RSS are dbk's process (not the TCP relay to moto, which runs in the bench's); moto CPU s is moto_server's.",
    '',
    '| step | storage | wall s | CPU s | moto CPU s | peak RSS MB | stored MB | load at start | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...(['backup', 'restore'] as const).flatMap((step) => (['local', 's3'] as const).map((kind) => row(step, kind))),
  ];
}

// ---- main ----

async function main(): Promise<void> {
  const o = options();
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time not found: install the `time` package');
  mkdirSync(path.join(o.work, 's3'), { recursive: true });
  const out = [`${availableParallelism()} cores; load average at the start (1, 5, 15 min): ${loadAverages()}`, ''];
  out.push(...(await listingPart(o)), '');
  const missing = motoMissing();
  if (missing) console.error(`skipping backup and restore over s3+http://: ${missing}`);
  out.push(...(missing ? [`Backup and restore skipped: ${missing}`] : await backupPart(o)));
  const text = out.join('\n');
  writeFileSync(path.join(o.work, 's3', 'results.md'), `${text}\n`);
  console.log(text);
}

try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
}
