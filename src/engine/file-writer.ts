// Puts restored files and symlinks on disk from a worker thread that makes synchronous system
// calls. Through the thread pool each call costs the main thread about 40 µs and every file takes
// six or seven of them (open, write, chown, chmod, utimes, close, rename): for 100,000 small files
// that was most of a restore. The worker creates each file with O_EXCL (never through a symlink,
// never over something that appeared meanwhile), sets its owner, mode and times on the open
// descriptor, and renames a temporary file into place only where that is needed: over an
// existing file, or for a large file whose content is verified only once it is all written.
//
// Content travels through a ring of shared memory: the main thread copies each file's bytes in,
// the worker writes them out and frees its part, oldest first. Nothing is allocated per file, so
// neither thread leaves buffers behind for its collector, and the bytes between them are bounded
// by the ring.

import { Worker } from 'node:worker_threads';
import { ContentRing } from './content-ring.js';
import { workerFile } from './worker-file.js';

export interface FileAttributes {
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export interface PlacedFile extends FileAttributes {
  /** absolute path */
  target: string;
  /** write under a temporary name beside the target and rename it over the target */
  viaTemp: boolean;
  /** a folder in the target's place may be removed (restore's overwrite) */
  replaceFolder: boolean;
}

/** Where a job's content sits in the ring. */
export interface RingSpan {
  offset: number;
  length: number;
}

/** One step for the worker. */
export type WriterJob =
  | { op: 'whole'; id: number; file: PlacedFile; content: RingSpan[] }
  | { op: 'open'; id: number; file: PlacedFile }
  | { op: 'append'; id: number; content: RingSpan[] }
  | { op: 'close'; id: number; commit: boolean }
  | { op: 'symlink'; id: number; target: string; link: string; mtimeMs: number };

/** The worker's answer to each message of jobs, in order. */
export interface WriterReport {
  failures: { id: number; message: string; code?: string }[];
}

const RING_BYTES = 16 << 20;
/** the most one job copies into the ring: a whole file, or one append of a large one */
export const SPAN_MAX = RING_BYTES / 4;
/** jobs are posted when this many wait, or this many bytes of content */
const BATCH_JOBS = 256;
const BATCH_BYTES = 1 << 20;

export class FileWriter {
  private readonly worker: Worker;
  private readonly ring = new ContentRing(RING_BYTES);
  private jobs: WriterJob[] = [];
  private batchBytes = 0;
  /** ring bytes taken by each posted message, oldest first: freed as the reports come */
  private readonly postedBytes: number[] = [];
  private nextId = 1;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor() {
    this.worker = new Worker(workerFile('file-writer-worker.js'), { workerData: this.ring.memory });
    this.worker.on('message', (r: WriterReport) => this.take(r));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the file writer stopped (exit code ${code})`)));
  }

  /** A whole file of at most a quarter of the ring; its content is copied before this resolves. */
  async writeWhole(file: PlacedFile, pieces: readonly Uint8Array[]): Promise<void> {
    const id = this.nextId++;
    const content: RingSpan[] = [];
    let cost = 0;
    for (const piece of pieces) {
      const span = await this.copyIn(piece);
      content.push(span.span);
      cost += span.cost;
    }
    this.push({ op: 'whole', id, file, content }, cost);
  }

  /** Starts a file written piece by piece; returns its id for append() and finish(). */
  open(file: PlacedFile): number {
    const id = this.nextId++;
    this.push({ op: 'open', id, file });
    return id;
  }

  async append(id: number, piece: Uint8Array): Promise<void> {
    for (let at = 0; at < piece.length; at += SPAN_MAX) {
      const { span, cost } = await this.copyIn(piece.subarray(at, at + SPAN_MAX));
      this.push({ op: 'append', id, content: [span] }, cost);
    }
  }

  /** Ends a file opened with open(): puts it in place, or with `commit` false removes what was written. */
  finish(id: number, commit: boolean): void {
    this.push({ op: 'close', id, commit });
  }

  symlink(target: string, link: string, mtimeMs: number): void {
    this.push({ op: 'symlink', id: this.nextId++, target, link, mtimeMs });
  }

  /** Waits until everything handed over is written; throws the first failure. */
  async drain(): Promise<void> {
    this.flush();
    while (this.postedBytes.length > 0 && !this.failure) await this.waitForReport();
    this.throwFailure();
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  /**
   * Copies bytes into the ring, waiting for room. The job they belong to is pushed only after
   * all its bytes are in, so while it waits the rest of the ring drains: a job of at most
   * SPAN_MAX always fits in the end.
   */
  private async copyIn(bytes: Uint8Array): Promise<{ span: RingSpan; cost: number }> {
    let taken = this.ring.take(bytes.length);
    while (taken === undefined) {
      this.flush(); // what waits to be posted holds ring space too
      this.throwFailure();
      await this.waitForReport();
      taken = this.ring.take(bytes.length);
    }
    this.ring.bytes.set(bytes, taken.offset);
    return { span: { offset: taken.offset, length: bytes.length }, cost: taken.cost };
  }

  private push(job: WriterJob, cost = 0): void {
    this.throwFailure();
    this.jobs.push(job);
    this.batchBytes += cost;
    if (this.jobs.length >= BATCH_JOBS || this.batchBytes >= BATCH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.jobs.length === 0) return;
    this.worker.postMessage(this.jobs);
    this.postedBytes.push(this.batchBytes);
    this.jobs = [];
    this.batchBytes = 0;
  }

  private take(r: WriterReport): void {
    this.ring.free(this.postedBytes.shift() ?? 0);
    const f = r.failures[0];
    if (f) this.failure ??= Object.assign(new Error(f.message), f.code ? { code: f.code } : {});
    this.notify();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForReport(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }
}
