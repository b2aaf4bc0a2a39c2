// Issue 4's benchmark: dbk over SFTP on loopback beside a local storage, on the `small` corpus
// (bench/make-corpus.ts). Starts a throwaway OpenSSH server (test/support/sshd.ts) and measures under
// /usr/bin/time: a backup of the corpus to a local folder and to sftp://, a restore from each
// (compared with the corpus by diff -r) beside `cp -a` of the corpus (the floor under a restore),
// and the listing of 100,000 chunk files, written straight to the server's disk, by listTree() at
// threads 1 and 8, over sftp:// and, for scale, the local backend. Each step runs --runs times
// (interleaved: the machine is shared and noisy) and every run's figure is printed, as two
// markdown tables (also saved to WORK/sftp/results.md).
//
// usage: npm run bench:sftp -- [--work DIR] [--scale F] [--threads N] [--runs N] [--chunks N]
//   --work     corpus, storages, restores and logs (default $DBK_BENCH_WORK, else /tmp/dbk-bench);
//              the corpus is made once in WORK/corpus/small-F, as bench/core.sh does, and reused
//   --scale    scale of the small corpus (default 1: 100,000 files, ~850 MB)
//   --threads  dbk's -threads for backup and restore (default 4)
//   --runs     measurements of each step (default 2)
//   --chunks   chunk files to list (default 100000)
//
// dbk keeps .dbk/ in the folder it runs in, so backups run in a scratch folder initialised with
// `init -repository CORPUS` and the corpus is never written to. /usr/bin/time sees dbk alone; the
// server's CPU (sshd and the sessions it reaped) is read from /proc and shown apart.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Sshd, sshdUnavailable, startSshd } from '../test/support/sshd.js';
import { exec, mustExec } from './child-process.js';
import { fileBytes, smallCorpus } from './small-corpus.js';
import { serverCpu } from './sshd-usage.js';

const USAGE = 'usage: npm run bench:sftp -- [--work DIR] [--scale F] [--threads N] [--runs N] [--chunks N]';
const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const CLI = path.join(here, '../src/cli/main.js');
const LISTER = path.join(here, 'sftp-list.js');
const TIMEFMT = '{"wall_s":%e,"user_s":%U,"sys_s":%S,"max_rss_kb":%M}';
const LIST_THREADS = [1, 8];
const MB = 1e6;

interface Options {
  work: string;
  /** as given, for the corpus folder's name (shared with bench/core.sh) */
  scale: string;
  threads: number;
  runs: number;
  chunks: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      work: { type: 'string', default: process.env.DBK_BENCH_WORK ?? '/tmp/dbk-bench' },
      scale: { type: 'string', default: '1' },
      threads: { type: 'string', default: '4' },
      runs: { type: 'string', default: '2' },
      chunks: { type: 'string', default: '100000' },
    },
  });
  const o = { work: path.resolve(values.work), scale: values.scale, threads: Number(values.threads), runs: Number(values.runs), chunks: Number(values.chunks) };
  if (!(Number(o.scale) > 0) || ![o.threads, o.runs, o.chunks].every((n) => Number.isInteger(n) && n >= 1)) throw new Error(USAGE);
  return o;
}

// ---- processes ----

interface Metrics {
  wall_s: number;
  user_s: number;
  sys_s: number;
  max_rss_kb: number;
}

/** One measured run of one step: what /usr/bin/time saw, the server's CPU, the command's stdout. */
interface Sample {
  metrics: Metrics;
  sshdCpu?: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time in `cwd`, its stderr to `log`; with a server, measures its CPU too. */
async function timed(command: string[], cwd: string, log: string, env: NodeJS.ProcessEnv, sshd?: Sshd): Promise<Sample> {
  await mustExec('sync', []);
  const before = sshd && (await serverCpu(sshd));
  const timeFile = `${log}.time`;
  const r = await exec('/usr/bin/time', ['-o', timeFile, '-f', TIMEFMT, ...command], { cwd, env, stderrTo: log });
  if (r.code !== 0) throw new Error(`${command.join(' ')} failed (exit ${r.code}) in ${cwd}:\n${readFileSync(log, 'utf8').slice(-3000)}`);
  const after = sshd && (await serverCpu(sshd));
  const lines = readFileSync(timeFile, 'utf8').trim().split('\n'); // a failure line may come first
  const metrics = JSON.parse(lines[lines.length - 1] ?? '') as Metrics;
  return { metrics, stdout: r.stdout, ...(before !== undefined && after !== undefined ? { sshdCpu: after - before } : {}) };
}

// ---- data ----

/**
 * A storage holding only `n` chunk files of 64 bytes at chunks/<2 hex>/<62 hex>, named by the
 * SHA-256 of their index: what listing a storage of n chunks costs, without making n chunks.
 */
function chunkTree(dir: string, n: number): void {
  if (existsSync(`${dir}.done`)) return;
  console.error(`writing ${n} chunk files in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 256; i++) mkdirSync(path.join(dir, 'chunks', i.toString(16).padStart(2, '0')), { recursive: true });
  const body = Buffer.alloc(64, 0x5a);
  for (let i = 0; i < n; i++) {
    const id = createHash('sha256').update(String(i)).digest('hex');
    writeFileSync(path.join(dir, 'chunks', id.slice(0, 2), id.slice(2)), body);
  }
  writeFileSync(`${dir}.done`, '');
}

// ---- the steps ----

type Figure = 'wall' | 'cpu' | 'sshd' | 'rss' | 'list' | 'stored';
type Figures = Partial<Record<Figure, number>>;

interface Row {
  label: string[];
  runs: Figures[];
  notes: string[];
}

/** Rows by label, in the order first measured. */
class Results {
  readonly rows = new Map<string, Row>();

  add(label: string[], sample: Sample, extra: Figures, note: string): void {
    const key = label.join('\0');
    const row = this.rows.get(key) ?? { label, runs: [], notes: [] };
    this.rows.set(key, row);
    const m = sample.metrics;
    row.runs.push({ wall: m.wall_s, cpu: m.user_s + m.sys_s, rss: (m.max_rss_kb * 1024) / MB, ...(sample.sshdCpu === undefined ? {} : { sshd: sample.sshdCpu }), ...extra });
    if (!row.notes.includes(note)) row.notes.push(note);
  }
}

interface Bench {
  o: Options;
  corpus: string;
  listStorage: string;
  sshd: Sshd;
  env: NodeJS.ProcessEnv;
  results: Results;
  logs: string;
}

const sftpUrl = (sshd: Sshd, dir: string) => `sftp://${sshd.user}@${sshd.host}:${sshd.port}/${dir}`; // dir is absolute: //dir

/** Backs the corpus up to a fresh storage, restores it into a fresh folder and compares the two. */
async function backupAndRestore(b: Bench, kind: 'local' | 'sftp', run: number): Promise<void> {
  const base = path.join(b.o.work, 'sftp', `run-${kind}`);
  rmSync(base, { recursive: true, force: true });
  const [repo, restored, storageDir] = ['repo', 'restored', 'storage'].map((d) => path.join(base, d)) as [string, string, string];
  mkdirSync(repo, { recursive: true });
  mkdirSync(restored, { recursive: true });
  const url = kind === 'sftp' ? sftpUrl(b.sshd, storageDir) : storageDir;
  const server = kind === 'sftp' ? b.sshd : undefined;
  const threads = ['-threads', String(b.o.threads)];

  await mustExec(process.execPath, [CLI, 'init', '-e', '-repository', b.corpus, 'bench', url], { cwd: repo, env: b.env });
  const backup = await timed([process.execPath, CLI, 'backup', ...threads, '--json'], repo, path.join(b.logs, `backup-${kind}-${run}.log`), b.env, server);
  const stats = JSON.parse(backup.stdout) as { files: number };
  const stored = await fileBytes(storageDir);
  // stored bytes differ a little from run to run: each new storage draws its own chunker seed
  b.results.add(['backup', kind], backup, { stored: stored / MB }, `${stats.files} files`);
  report(run, `backup ${kind}`, backup);

  await mustExec(process.execPath, [CLI, 'init', 'bench', url], { cwd: restored, env: b.env });
  const restore = await timed([process.execPath, CLI, 'restore', '-r', '1', ...threads, '--json'], restored, path.join(b.logs, `restore-${kind}-${run}.log`), b.env, server);
  const diff = await exec('diff', ['-r', '--no-dereference', '-x', '.dbk', b.corpus, restored]);
  const verdict = diff.code === 0 ? 'byte-identical (diff -r)' : `DIFFERS: ${diff.stdout.split('\n').slice(0, 3).join('; ')}${diff.stderr}`;
  b.results.add(['restore', kind], restore, {}, verdict);
  report(run, `restore ${kind}`, restore, verdict);
  rmSync(base, { recursive: true, force: true });
}

/**
 * The same tree written by `cp -a`: the floor under a restore on this machine, whose file
 * creation alone costs seconds of kernel time and varies with what else runs.
 */
async function copyFloor(b: Bench, run: number): Promise<void> {
  const copy = path.join(b.o.work, 'sftp', 'copy');
  rmSync(copy, { recursive: true, force: true });
  const sample = await timed(['cp', '-a', b.corpus, copy], b.o.work, path.join(b.logs, `copy-${run}.log`), b.env);
  b.results.add(['copy (cp -a)', 'local'], sample, {}, 'the floor under a restore');
  report(run, 'cp -a', sample);
  rmSync(copy, { recursive: true, force: true });
}

/** Lists the chunk files with listTree() in a process of its own. */
async function listing(b: Bench, kind: 'local' | 'sftp', threads: number, run: number): Promise<void> {
  const repo = path.join(b.o.work, 'sftp', 'list-repo'); // holds .dbk/known_hosts
  const url = kind === 'sftp' ? sftpUrl(b.sshd, b.listStorage) : b.listStorage;
  const log = path.join(b.logs, `list-${kind}-${threads}-${run}.log`);
  const sample = await timed([process.execPath, LISTER, url, String(threads), repo], repo, log, b.env, kind === 'sftp' ? b.sshd : undefined);
  const r = JSON.parse(sample.stdout) as { files: number; open_s: number; list_s: number };
  const note = r.files === b.o.chunks ? `${r.files} files` : `WRONG COUNT: ${r.files} files, expected ${b.o.chunks}`;
  b.results.add(['list chunks', kind, String(threads)], sample, { list: r.list_s }, note);
  report(run, `list ${kind} threads ${threads}`, sample, `listTree ${r.list_s.toFixed(2)} s, ${note}`);
}

function report(run: number, step: string, s: Sample, note = ''): void {
  const m = s.metrics;
  const sshd = s.sshdCpu === undefined ? '' : `, sshd CPU ${s.sshdCpu.toFixed(1)} s`;
  console.error(`run ${run}: ${step}: ${m.wall_s} s wall, ${(m.user_s + m.sys_s).toFixed(1)} s CPU${sshd}, ${Math.round((m.max_rss_kb * 1024) / MB)} MB RSS ${note}`);
}

// ---- the tables ----

type Column = [header: string, figure: Figure, digits: number];

function table(rows: Row[], labels: string[], columns: Column[]): string[] {
  const cell = (r: Row, [, figure, digits]: Column) => r.runs.map((f) => (f[figure] === undefined ? '—' : f[figure].toFixed(digits))).join(' / ');
  return [
    `| ${[...labels, ...columns.map((c) => c[0]), 'result'].join(' | ')} |`,
    `| ${[...labels.map(() => '---'), ...columns.map(() => '---:'), '---'].join(' | ')} |`,
    ...rows.map((r) => `| ${[...r.label, ...columns.map((c) => cell(r, c)), r.notes.join('; ')].join(' | ')} |`),
  ];
}

function render(b: Bench, files: number, bytes: number): string {
  const rows = [...b.results.rows.values()];
  const usage: Column[] = [
    ['CPU s', 'cpu', 1],
    ['sshd CPU s', 'sshd', 1],
    ['peak RSS MB', 'rss', 0],
  ];
  return [
    `### dbk over SFTP on loopback — small corpus, scale ${b.o.scale}: ${files} files, ${(bytes / MB).toFixed(0)} MB`,
    '',
    `${availableParallelism()} cores; backup and restore with -threads ${b.o.threads}; each cell lists the ${b.o.runs} runs in order (run 1 / run 2 …; local first in odd runs, sftp first in even ones).`,
    "CPU s and peak RSS are dbk's process; sshd CPU s is the server's (sshd and its sessions).",
    '',
    ...table(
      rows.filter((r) => r.label[0] !== 'list chunks'),
      ['step', 'storage'],
      [['wall s', 'wall', 1], ...usage, ['stored MB', 'stored', 1]],
    ),
    '',
    `Listing ${b.o.chunks} chunk files (chunks/<2 hex>/<62 hex>) with listTree(): listTree s is the listing alone; wall s adds starting node and connecting.`,
    '',
    ...table(
      rows.filter((r) => r.label[0] === 'list chunks'),
      ['step', 'storage', 'threads'],
      [['listTree s', 'list', 2], ['wall s', 'wall', 2], ...usage],
    ),
  ].join('\n');
}

// ---- main ----

async function main(): Promise<void> {
  const o = options();
  const why = sshdUnavailable();
  if (why) throw new Error(why);
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time not found: install the `time` package');
  const logs = path.join(o.work, 'sftp', 'logs');
  mkdirSync(logs, { recursive: true });
  const corpus = await smallCorpus(o);
  const listStorage = path.join(o.work, 'sftp', `list-storage-${o.chunks}`);
  chunkTree(listStorage, o.chunks);
  // every step reads the corpus from the page cache, not only the ones after the first
  await mustExec('bash', ['-c', 'find "$1" -type f -print0 | xargs -0 -r cat >/dev/null', 'warm', corpus]);
  const files = Number((await mustExec('bash', ['-c', 'find "$1" -type f | wc -l', 'count', corpus])).trim());
  const bytes = await fileBytes(corpus);

  const sshd = await startSshd();
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, DBK_PASSWORD: 'bench', DBK_SSH_KEY_FILE: sshd.userKey.privateKeyFile };
    delete env.SSH_AUTH_SOCK; // the generated key alone
    rmSync(path.join(o.work, 'sftp', 'list-repo'), { recursive: true, force: true }); // pinned a previous server's key
    mkdirSync(path.join(o.work, 'sftp', 'list-repo'));
    const b: Bench = { o, corpus, listStorage, sshd, env, results: new Results(), logs };
    for (let run = 1; run <= o.runs; run++) {
      await copyFloor(b, run);
      // alternate the order, so that neither storage always comes first
      for (const kind of run % 2 ? (['local', 'sftp'] as const) : (['sftp', 'local'] as const)) await backupAndRestore(b, kind, run);
      for (const kind of ['local', 'sftp'] as const) for (const threads of LIST_THREADS) await listing(b, kind, threads, run);
    }
    const out = render(b, files, bytes);
    writeFileSync(path.join(o.work, 'sftp', 'results.md'), `${out}\n`);
    console.log(out);
  } finally {
    await sshd.close();
  }
}

try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
}
