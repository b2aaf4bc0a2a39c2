// Issue 15, part 2: a backup under a new snapshot id of data the storage already holds (written by
// another id) sends almost nothing: target < 1% of the first backup's bytes, no chunk file but the
// revision's own metadata chunks, and wall time ≤ 0.3 × the first backup's.
//
//   npm run --silent bench:shared-storage -- [--mb 1024] [--work DIR] [--storages odb,sftp]
//                                            [--latency-ms 30] [--threads N] [--json]
//
// The corpus (bench/make-corpus.ts `blend`: large random files and many small ones, --mb MiB in
// all) is made once in WORK/corpus/blend-MB and copied (cp -a, times kept) to a second folder. For
// each storage — odb:// on the Graph emulator in a separate process (--latency-ms per request),
// sftp:// on a throwaway OpenSSH server (test/support/sshd.ts) on loopback — in a new storage:
//   first    a repository of the corpus (init -e, id `first`) backs it up
//   second   the copy, a repository of its own (fresh .dbk, so no chunk list in its cache) joined to
//            the storage as id `second`, backs it up: its cache has no chunk list, so it lists once
//   cached   a third repository of the copy (id `third`) whose cache `check -a` filled with a chunk
//            list backs it up: the cached list instead of a listing
// Every command is the built CLI under /usr/bin/time (wall time, peak RSS), run with -v --json.
// Bytes sent are counted by the server: the emulator's `uploadedBytes` counter (bodies of simple
// uploads and session fragments), or sshd's rchar from /proc/<pid>/io (sshd and the sessions it
// reaped: the SSH stream received, plus the little the sessions read from files and pipes). Chunk
// files written are those chunks/ holds after the backup less those it held before.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listTree } from '../backends/list-tree.js';
import { openBackend } from '../backends/registry.js';
import { silentLogger } from '../src/log.js';
import { makeSettings } from '../src/settings.js';
import { sshdUnavailable, startSshd } from '../test/support/sshd.js';
import { loadAverage, startEmulatorProcess } from './emulator-process.js';
import { serverIo } from './sshd-usage.js';
import { type Measurement, timedAsync } from './timed-cli.js';

const MAKE_CORPUS = fileURLToPath(new URL('./make-corpus.js', import.meta.url));
const MB = 1e6;
const PASSWORD = 'bench';

interface Options {
  mb: number;
  work: string;
  storages: ('odb' | 'sftp')[];
  latencyMs: string;
  threads: string | undefined;
  json: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: '1024' },
      work: { type: 'string', default: process.env.DBK_BENCH_WORK ?? '/tmp/dbk-bench' },
      storages: { type: 'string', default: 'odb,sftp' },
      'latency-ms': { type: 'string', default: '30' },
      threads: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const storages = values.storages.split(',') as Options['storages'];
  const o = { mb: Number(values.mb), work: path.resolve(values.work), storages, latencyMs: values['latency-ms'], threads: values.threads, json: values.json };
  if (!(o.mb > 0) || storages.some((s) => s !== 'odb' && s !== 'sftp')) {
    throw new Error('usage: npm run bench:shared-storage -- [--mb 1024] [--work DIR] [--storages odb,sftp] [--latency-ms 30] [--threads N] [--json]');
  }
  return o;
}

// ---- data ----

interface Usage {
  files: number;
  bytes: number;
}

/** Files and their bytes below `dir` (none when it is missing). */
function treeUsage(dir: string): Usage {
  if (!existsSync(dir)) return { files: 0, bytes: 0 };
  const u: Usage = { files: 0, bytes: 0 };
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    u.files++;
    u.bytes += statSync(path.join(e.parentPath, e.name)).size;
  }
  return u;
}

/** make-corpus writes file by file: a marker beside the corpus says it finished. */
function corpus(o: Options): string {
  const dir = path.join(o.work, 'corpus', `blend-${o.mb}`);
  if (!existsSync(`${dir}.done`)) {
    process.stderr.write(`making the corpus (${o.mb} MiB) in ${dir}\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    execFileSync(process.execPath, [MAKE_CORPUS, 'blend', dir, '--scale', String(o.mb / 1024)], { stdio: 'inherit' });
    writeFileSync(`${dir}.done`, '');
  }
  return dir;
}

// ---- storages ----

interface Storage {
  label: string;
  url: string;
  /** storage settings and secrets for the CLI */
  env: NodeJS.ProcessEnv;
  /** how received() counts */
  counted: string;
  /** bytes the server has received so far */
  received(): Promise<number>;
  /** the chunk files chunks/ holds */
  chunkFiles(): Promise<Usage>;
  /** settles the server before a timed run */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

async function odbStorage(work: string, latencyMs: string): Promise<Storage> {
  const emulator = await startEmulatorProcess(work, ['--latency-ms', latencyMs]);
  const settings = { ...emulator.settings, odb_max_batch_requests: 'max' };
  const url = 'odb://bench/shared-storage';
  return {
    label: `odb:// (Graph emulator, ${latencyMs} ms a request)`,
    url,
    env: Object.fromEntries(Object.entries(settings).map(([k, v]) => [`DBK_${k.toUpperCase()}`, v])),
    counted: "the emulator's uploadedBytes counter (bodies of PUT content and upload-session fragments)",
    received: async () => (await emulator.counters()).uploadedBytes,
    chunkFiles: async () => {
      const backend = await openBackend(url, { settings: makeSettings('default', settings, {}), repoDir: work, threads: 16, log: silentLogger });
      const u: Usage = { files: 0, bytes: 0 };
      try {
        await listTree(backend, 'chunks', { threads: 16 }, (_folder, files) => {
          u.files += files.length;
          for (const f of files) u.bytes += f.size;
        });
      } finally {
        await backend.close();
      }
      return u;
    },
    settle: () => emulator.collectGarbage(),
    stop: async () => emulator.stop(),
  };
}

async function sftpStorage(work: string): Promise<Storage> {
  const why = sshdUnavailable();
  if (why) throw new Error(why);
  const sshd = await startSshd();
  const dir = path.join(work, 'storage');
  const env: NodeJS.ProcessEnv = { DBK_SSH_KEY_FILE: sshd.userKey.privateKeyFile, SSH_AUTH_SOCK: '' }; // the generated key alone
  return {
    label: 'sftp:// (OpenSSH on loopback)',
    url: `sftp://${sshd.user}@${sshd.host}:${sshd.port}/${dir}`,
    env,
    counted: "rchar of sshd and the sessions it reaped (/proc/<pid>/io): the SSH stream received, encrypted, plus the sessions' own reads",
    received: async () => (await serverIo(sshd)).rchar,
    chunkFiles: async () => treeUsage(path.join(dir, 'chunks')),
    settle: async () => {
      await serverIo(sshd); // waits until the sessions of the last command have ended
    },
    stop: () => sshd.close(),
  };
}

// ---- the runs ----

/** What `dbk backup --json` prints, in part. */
interface BackupJson {
  files: number;
  bytes: number;
  readBytes: number;
  chunks: number;
  newChunks: number;
  newBytes: number;
  uploadedBytes: number;
  foundChunks: number;
}

interface Run {
  storage: string;
  step: string;
  command: string;
  seconds: number;
  peakMb: number;
  /** bytes the server received during the run */
  received: number;
  /** chunks/ before and after */
  chunksBefore: Usage;
  chunksAfter: Usage;
  /** how the backup learnt what the storage holds */
  listing: string;
  load: number;
  backup?: BackupJson;
}

interface Context {
  o: Options;
  storage: Storage;
  env: NodeJS.ProcessEnv;
  runs: Run[];
}

const dbkArgs = (o: Options, args: string[]) => ['-v', ...args, ...(o.threads ? ['--threads', o.threads] : []), '--json'];

async function untimed(c: Context, cwd: string, args: string[]): Promise<void> {
  await timedAsync(args.join(' '), cwd, args, '', c.env);
}

/** Runs a dbk command under /usr/bin/time and records what the server received and what chunks/ gained. */
async function measured(c: Context, step: string, cwd: string, args: string[]): Promise<Run> {
  const chunksBefore = await c.storage.chunkFiles();
  await c.storage.settle();
  const received0 = await c.storage.received();
  execFileSync('sync');
  const load = loadAverage();
  const m: Measurement = await timedAsync(`${c.storage.label} ${step}`, cwd, dbkArgs(c.o, args), '', c.env);
  const received = (await c.storage.received()) - received0;
  const chunksAfter = await c.storage.chunkFiles();
  const backup = args[0] === 'backup' ? (JSON.parse(m.output) as BackupJson) : undefined;
  const listing = args[0] !== 'backup' ? '' : /listing them once/.test(m.log) ? 'one listing' : step === 'first' ? '(id alone on the storage)' : 'cached list';
  const run: Run = {
    storage: c.storage.label,
    step,
    command: `dbk ${args.join(' ')}`,
    seconds: m.seconds,
    peakMb: m.peakMb,
    received,
    chunksBefore,
    chunksAfter,
    listing,
    load,
    ...(backup ? { backup } : {}),
  };
  c.runs.push(run);
  process.stderr.write(
    `${run.storage} ${step}: ${m.seconds} s, ${m.peakMb.toFixed(0)} MB, server received ${(received / MB).toFixed(2)} MB, ` +
      `chunk files +${chunksAfter.files - chunksBefore.files}${backup ? `, found ${backup.foundChunks}, new ${backup.newChunks}` : ''} (load ${load})\n`,
  );
  return run;
}

async function benchStorage(o: Options, kind: 'odb' | 'sftp', source: string, copy: string): Promise<{ label: string; counted: string; runs: Run[] }> {
  const base = path.join(o.work, 'shared-storage', kind);
  rmSync(base, { recursive: true, force: true });
  const [first, third] = ['first', 'third'].map((d) => path.join(base, d)) as [string, string];
  for (const d of [first, third]) mkdirSync(d, { recursive: true });
  rmSync(path.join(copy, '.dbk'), { recursive: true, force: true });
  const storage = kind === 'odb' ? await odbStorage(base, o.latencyMs) : await sftpStorage(base);
  const c: Context = { o, storage, env: { ...storage.env, DBK_PASSWORD: PASSWORD }, runs: [] };
  try {
    await untimed(c, first, ['init', '-e', '--repository', source, 'first', storage.url]);
    await measured(c, 'first', first, ['backup']);
    await untimed(c, copy, ['init', 'second', storage.url]);
    await measured(c, 'second', copy, ['backup']);
    await untimed(c, third, ['init', '--repository', copy, 'third', storage.url]);
    await measured(c, 'check -a (fills the cache)', third, ['check', '-a']);
    await measured(c, 'third, cached list', third, ['backup']);
  } finally {
    await storage.stop();
  }
  return { label: storage.label, counted: storage.counted, runs: c.runs };
}

// ---- the table ----

function render(o: Options, runs: Run[], corpusUsage: Usage, counted: Map<string, string>): string {
  const lines = [
    `### A backup under a new snapshot id of ${(corpusUsage.bytes / MB).toFixed(0)} MB the storage already holds (${corpusUsage.files} files: 60% in 8 random files, 40% in files of 4–256 KiB, half text)`,
    '',
    `${o.threads ? `--threads ${o.threads}` : 'default threads'}; every command with -v --json, under /usr/bin/time. Targets of the second and third backups: sent < 1% of the first's bytes, no chunk file but the revision's metadata (≤ 3), wall ≤ 0.3 × the first's.`,
    '',
    '| storage | step | wall s | × first | peak RSS MB | server received MB | % of first | dbk uploadedBytes MB | chunk files written (MB) | foundChunks | newChunks | how it knew the storage | load |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const r of runs) {
    const first = runs.find((x) => x.storage === r.storage && x.step === 'first')!;
    const b = r.backup;
    const cells = [
      r.storage,
      r.step,
      r.seconds.toFixed(2),
      r === first ? '1' : (r.seconds / first.seconds).toFixed(3),
      r.peakMb.toFixed(0),
      (r.received / MB).toFixed(3),
      r === first ? '100' : ((100 * r.received) / first.received).toFixed(3),
      b ? (b.uploadedBytes / MB).toFixed(3) : '—',
      `${r.chunksAfter.files - r.chunksBefore.files} (${((r.chunksAfter.bytes - r.chunksBefore.bytes) / MB).toFixed(3)})`,
      b ? String(b.foundChunks) : '—',
      b ? String(b.newChunks) : '—',
      r.listing || '—',
      r.load.toFixed(1),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('', 'Server received:', ...[...counted].map(([label, how]) => `- ${label}: ${how}`));
  return lines.join('\n');
}

// ---- main ----

async function main(): Promise<void> {
  const o = options();
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time not found: install the `time` package');
  const source = corpus(o);
  const copy = path.join(o.work, 'shared-storage', 'copy');
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(path.dirname(copy), { recursive: true });
  execFileSync('cp', ['-a', source, copy]);
  // both trees in the page cache, so that neither backup waits for the disk
  for (const dir of [source, copy]) execFileSync('bash', ['-c', 'find "$1" -type f -print0 | xargs -0 -r cat >/dev/null', 'warm', dir]);
  const corpusUsage = treeUsage(source);
  const runs: Run[] = [];
  const counted = new Map<string, string>();
  for (const kind of o.storages) {
    const got = await benchStorage(o, kind, source, copy);
    runs.push(...got.runs);
    counted.set(got.label, got.counted);
  }
  const table = render(o, runs, corpusUsage, counted);
  mkdirSync(path.join(o.work, 'shared-storage'), { recursive: true });
  writeFileSync(path.join(o.work, 'shared-storage', 'results.md'), `${table}\n`);
  if (o.json) console.log(JSON.stringify({ mb: o.mb, corpus: corpusUsage, runs }, null, 2));
  else console.log(table);
}

try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
}
