// The console's jobs: backup, check, prune and restore run in the server's process through the
// same library calls the CLI makes, one at a time per storage. A job belongs to the server, not to
// a browser tab: closing the tab leaves it running; cancelling aborts its signal, which stops it
// between steps as Ctrl-C stops the CLI. Progress and log lines go to whoever listens (server-sent
// events), at most a few progress events a second.

import { randomUUID } from 'node:crypto';
import { type BackupResult, backup } from '../commands/backup.js';
import { type CheckResult, check } from '../commands/check.js';
import { describePlan, type PruneResult, prune } from '../commands/prune.js';
import { type RestoreResult, restore } from '../commands/restore.js';
import { formatBytes } from '../human-size.js';
import type { Logger } from '../log.js';
import { parseKeepPolicy } from '../prune/retention.js';
import { HttpError, integerOf, revisionPathOf, snapshotIdOf } from './http.js';
import type { ServedStorages } from './storages.js';
import type { Job, JobKind, JobProgress, JobRequest } from './wire.js';

export type JobEvent = { type: 'progress' | 'end'; job: Job } | { type: 'log'; line: string };

interface RunningJob {
  view: Job;
  abort: AbortController;
  listeners: Set<(e: JobEvent) => void>;
  lastProgressEvent: number;
  ended?: Promise<void>;
}

/** What a job reports back: a summary line and a result small enough to send as JSON. */
type Outcome = { summary: string; result: unknown };
type Runner = (o: RunContext) => Promise<Outcome>;

interface RunContext {
  storages: ServedStorages;
  storage: string;
  signal: AbortSignal;
  log: Logger;
  progress: (p: JobProgress) => void;
}

/** Backups and restores work on the repository folder (a restore's marker and temporary files are the folder's, not a storage's). */
const touchesFolder = (kind: JobKind) => kind === 'backup' || kind === 'restore';

const KEEP_ENDED = 50;
const PROGRESS_EVERY_MS = 200;
/** lines of a prune plan sent to the page; the prune log holds all of them */
const PLAN_LINES = 2000;
const LISTED = 200;

export class Jobs {
  private readonly jobs = new Map<string, RunningJob>();

  constructor(
    private readonly storages: ServedStorages,
    private readonly log?: Logger,
  ) {}

  /** Starts a job from a request body; 409 while a job runs on its storage, or (a backup or restore) while another backup or restore runs. */
  start(body: Record<string, unknown>): Job {
    const storage = typeof body.storage === 'string' ? body.storage : (this.storages.list[0]?.name ?? '');
    this.storages.repo(storage); // NOT_FOUND for a storage that is not here
    const kind = body.kind as JobKind;
    const runner = runnerFor(kind, body);
    const busy = [...this.jobs.values()].find((j) => j.view.state === 'running' && (j.view.storage === storage || (touchesFolder(kind) && touchesFolder(j.view.kind))));
    if (busy)
      throw new HttpError(409, `a ${busy.view.kind} job is running on storage '${busy.view.storage}': one job at a time per storage, and one backup or restore at a time in the repository folder`);
    const request = { ...body, kind, storage } as JobRequest;
    const view: Job = { id: randomUUID(), kind, storage, request, state: 'running', startedAt: Date.now() };
    const job: RunningJob = { view, abort: new AbortController(), listeners: new Set(), lastProgressEvent: 0 };
    this.jobs.set(job.view.id, job);
    this.forgetOld();
    job.ended = this.run(job, runner);
    return { ...job.view };
  }

  list(): Job[] {
    return [...this.jobs.values()].map((j) => ({ ...j.view })).reverse();
  }

  get(id: string): Job {
    return { ...this.job(id).view };
  }

  cancel(id: string): Job {
    const job = this.job(id);
    if (job.view.state === 'running') job.abort.abort(new Error('cancelled from the console'));
    return { ...job.view };
  }

  /** Events of a job until it ends; a job that has ended sends its end at once. */
  subscribe(id: string, listener: (e: JobEvent) => void): () => void {
    const job = this.job(id);
    if (job.view.state !== 'running') {
      listener({ type: 'end', job: { ...job.view } });
      return () => {};
    }
    job.listeners.add(listener);
    return () => job.listeners.delete(listener);
  }

  /** Stops every running job and waits for each to clean up after itself (a backup withdraws its announcement). */
  async cancelAll(): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => j.view.state === 'running');
    for (const job of running) job.abort.abort(new Error('the server is stopping'));
    await Promise.all(running.map((j) => j.ended));
  }

  private async run(job: RunningJob, runner: Runner): Promise<void> {
    const emit = (e: JobEvent) => {
      for (const l of job.listeners) l(e);
    };
    const line = (level: string) => (message: string) => {
      emit({ type: 'log', line: `${level}${message}` });
      if (level === 'warning: ') this.log?.warn(`${job.view.kind} job: ${message}`);
    };
    const log: Logger = { info: line(''), warn: line('warning: '), debug: () => {} };
    const progress = (p: JobProgress) => {
      job.view.progress = p;
      const now = Date.now();
      if (now - job.lastProgressEvent < PROGRESS_EVERY_MS) return;
      job.lastProgressEvent = now;
      emit({ type: 'progress', job: { ...job.view } });
    };
    try {
      const outcome = await runner({ storages: this.storages, storage: job.view.storage, signal: job.abort.signal, log, progress });
      job.view.state = 'done';
      job.view.summary = outcome.summary;
      job.view.result = outcome.result;
    } catch (e) {
      job.view.state = job.abort.signal.aborted ? 'cancelled' : 'failed';
      job.view.error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    }
    job.view.endedAt = Date.now();
    emit({ type: 'end', job: { ...job.view } });
    job.listeners.clear();
  }

  private job(id: string): RunningJob {
    const job = this.jobs.get(id);
    if (!job) throw new HttpError(404, `no job ${id}`);
    return job;
  }

  private forgetOld(): void {
    const ended = [...this.jobs.values()].filter((j) => j.view.state !== 'running');
    for (const j of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.jobs.delete(j.view.id);
  }
}

function runnerFor(kind: unknown, body: Record<string, unknown>): Runner {
  switch (kind) {
    case 'backup':
      return runBackup;
    case 'check':
      return (c) => runCheck(c, body.chunks === true, body.files === true);
    case 'prune':
      return pruneRunner(body);
    case 'restore':
      return restoreRunner(body);
    default:
      throw new HttpError(400, `kind must be backup, check, prune or restore, not ${JSON.stringify(kind)}`);
  }
}

const options = (c: RunContext) => ({ ...c.storages.openOptions(c.storage, c.signal), log: c.log });

async function runBackup(c: RunContext): Promise<Outcome> {
  const r: BackupResult = await backup({
    ...options(c),
    onProgress: (p) => c.progress({ done: p.bytes, total: p.totalBytes, unit: 'bytes', phase: `${p.files} of ${p.totalFiles} files` }),
  });
  const problems = r.problems.length ? `; ${r.problems.length} not backed up` : '';
  return {
    summary: `revision ${r.revision} of '${r.snapshotId}' saved: ${r.files} files, ${formatBytes(r.bytes)}; ${r.readFiles} files read${problems}`,
    result: { ...r, problems: r.problems.slice(0, LISTED), skipped: r.skipped.slice(0, LISTED) },
  };
}

async function runCheck(c: RunContext, chunks: boolean, files: boolean): Promise<Outcome> {
  const r: CheckResult = await check({
    ...options(c),
    all: true,
    chunks,
    files,
    onProgress: (p) =>
      c.progress({ done: p.done, ...(p.total === undefined ? {} : { total: p.total }), unit: p.phase === 'listing' ? 'chunks' : p.phase === 'revisions' ? 'revisions' : p.phase, phase: p.phase }),
  });
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const verified = r.chunks ? `; ${r.chunks.verified} chunks verified` : '';
  return {
    summary: `${r.ok ? 'all good' : `${errors} errors`}: ${r.revisions.length} revisions, ${r.referencedChunks} chunks referenced${verified}${r.verifiedFiles === undefined ? '' : `; ${r.verifiedFiles} files verified`}`,
    result: { ok: r.ok, findings: r.findings.slice(0, LISTED), revisions: r.revisions.length, referencedChunks: r.referencedChunks, chunks: r.chunks, verifiedFiles: r.verifiedFiles },
  };
}

function pruneRunner(body: Record<string, unknown>): Runner {
  const keep = Array.isArray(body.keep) ? body.keep.map((k) => parseKeepPolicy(String(k))) : [];
  const dryRun = body.dryRun !== false;
  const exhaustive = body.exhaustive === true;
  return async (c) => {
    const r: PruneResult = await prune({ ...options(c), all: true, keep, exhaustive, dryRun, onProgress: (done, total) => c.progress({ done, total, unit: 'revisions', phase: 'loading revisions' }) });
    const plan: string[] = [];
    for (const line of describePlan(r.plan, { dryRun, eachChunk: false })) if (plan.push(line) >= PLAN_LINES) break;
    const x = r.execution;
    const done = x
      ? `done: ${x.deletedRevisions} revisions deleted, ${x.fossilized} chunks made fossils, ${x.deletedChunks} chunks or fossils deleted, ${x.resurrected} resurrected`
      : 'dry run: nothing changed';
    return { summary: done, result: { plan, dryRun, execution: x, logFile: r.logFile } };
  };
}

function restoreRunner(body: Record<string, unknown>): Runner {
  const snapshotId = body.id === undefined ? undefined : snapshotIdOf(body.id);
  const revision = integerOf(body.revision, 'revision');
  if (body.paths !== undefined && !(Array.isArray(body.paths) && body.paths.every((p) => typeof p === 'string'))) throw new HttpError(400, 'paths must be a list of paths in the revision');
  // a path of '' is the whole revision, as no paths at all
  const paths = ((body.paths as string[] | undefined) ?? []).map(revisionPathOf);
  const whole = paths.length === 0 || paths.includes('');
  const into = revisionPathOf(body.target);
  return async (c) => {
    const r: RestoreResult = await restore({
      ...options(c),
      ...(snapshotId ? { snapshotId } : {}),
      revision,
      ...(whole ? {} : { paths }),
      into,
      overwrite: body.overwrite === true,
      onProgress: (p) => c.progress({ done: p.bytes, total: p.totalBytes, unit: 'bytes', phase: `${p.files} of ${p.totalFiles} files` }),
    });
    const trouble = r.broken.length + r.failed.length;
    return {
      summary: `restored ${r.restoredFiles} files (${formatBytes(r.restoredBytes)}) from revision ${r.revision} into ${into === '' ? 'the repository folder' : into}; ${r.unchangedFiles} already up to date${trouble ? `; ${trouble} problems` : ''}`,
      result: { ...r, keptFiles: r.keptFiles.slice(0, LISTED), deletedFiles: r.deletedFiles.slice(0, LISTED), failed: r.failed.slice(0, LISTED) },
    };
  };
}
