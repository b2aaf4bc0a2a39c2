// Puts restored files, symlinks and folder attributes on disk from a worker thread that makes synchronous system
// calls. Through the thread pool each call costs the main thread about 40 µs and every file takes
// six or seven of them (open, write, chown, chmod, utimes, close, rename): for 100,000 small files
// that was most of a restore. The worker creates each file with O_EXCL (never through a symlink,
// never over something that appeared meanwhile),
// sets its owner, mode and times on the open descriptor, and renames a temporary file into place
// only where that is needed: over an existing file, or for a file streamed piece by piece.
//
// Content is never copied on its way: the chunks are decoded straight into a ring of shared
// memory that the writer owns (reserve()), jobs name spans of it, and a chunk's span is given
// back (release()) once every job reading it is handed over; it is free again once the worker
// has done them. Nothing is allocated per chunk or per file.

import { Worker } from 'node:worker_threads';
import type { ExtendedAttribute } from '../format/file-list.js';
import { ContentRing } from '../storage/content-ring.js';
import { workerFile } from '../storage/worker-file.js';

export interface FileAttributes extends FileTimes {
  mode: number;
  /** the owner to give as root: resolved from the recorded names by the caller */
  uid: number;
  gid: number;
  /** extended attributes to set, if any */
  xattrs?: ExtendedAttribute[];
}

/** A modification time to the nanosecond (FileEntry's). */
export interface FileTimes {
  mtimeS: number;
  mtimeNs: number;
}

/** What a symlink keeps of its own: owner and time. */
export type FileOwner = Pick<FileAttributes, 'uid' | 'gid' | 'mtimeS' | 'mtimeNs'>;

export interface PlacedFile extends FileAttributes {
  /** absolute path */
  target: string;
  /** write under a temporary name beside the target and rename it over the target */
  viaTemp: boolean;
  /** a folder in the target's place may be removed (restore's overwrite) */
  replaceFolder: boolean;
}

/** Bytes of the ring. */
export interface RingSpan {
  offset: number;
  length: number;
}

/** A reserved span, and the ring bytes it holds until released (with what was skipped to wrap). */
export interface Reserved extends RingSpan {
  cost: number;
}

/** One step for the worker. */
export type WriterJob =
  | { op: 'whole'; id: number; file: PlacedFile; content: RingSpan[] }
  | { op: 'open'; id: number; file: PlacedFile }
  | { op: 'append'; id: number; content: RingSpan }
  | { op: 'close'; id: number; commit: boolean }
  | { op: 'symlink'; id: number; path: string; linkText: string; owner: FileOwner }
  | { op: 'folder'; id: number; target: string; attributes: FileAttributes }
  /** removes every file opened and not closed (a restore that stops) */
  | { op: 'abandon'; id: number };

export interface WriterSetup {
  ring: SharedArrayBuffer;
}

/** The worker's answer to each message of jobs, in order: what failed, each a file (or link, or folder) of its own. */
export interface WriterReport {
  failures: { id: number; path: string; message: string; code?: string }[];
  /** written, but an attribute could not be set (an extended attribute the target file system refuses) */
  warnings: { path: string; message: string }[];
}

/** The writer thread is gone: nothing more can be written. Any other failure belongs to one file. */
export class WriterStopped extends Error {}

/** jobs are posted when this many wait, or when they read this many bytes: the worker is never idle long */
const BATCH_JOBS = 256;
const BATCH_BYTES = 1 << 20;
/** messages the worker may have yet to answer before room() waits: 16 × 256 jobs */
const MAX_UNANSWERED = 16;

export class FileWriter {
  /** ring space was freed */
  onFreed: () => void = () => {};
  /**
   * Told of each file, link or folder that could not be written (absolute path, reason); the
   * writer goes on with the others. Without it the first such failure stops the writer.
   */
  onFileFailure: ((path: string, reason: string) => void) | undefined;
  /** Told of each file written without one of its attributes (absolute path, reason). */
  onWarning: (path: string, reason: string) => void = () => {};
  private readonly worker: Worker;
  private readonly ring: ContentRing;
  private jobs: WriterJob[] = [];
  /** content bytes the waiting jobs read */
  private jobBytes = 0;
  /** ring bytes released since the last post: freed when the worker answers the next one */
  private released = 0;
  /** ring bytes each posted message frees when answered, oldest first */
  private readonly posted: number[] = [];
  private nextId = 1;
  /** messages posted to the worker, and answered by it (in the order posted) */
  sentMessages = 0;
  answeredMessages = 0;
  /** the worker answered a message: what it held is written, or reported as failed */
  onAnswered: () => void = () => {};
  private failure: Error | undefined;
  /** the worker is gone, or going */
  private stopped = false;
  private waiting: (() => void)[] = [];

  constructor(ringBytes: number) {
    this.ring = new ContentRing(ringBytes);
    const setup: WriterSetup = { ring: this.ring.memory };
    this.worker = new Worker(workerFile('restore/file-writer-worker.js'), { workerData: setup });
    this.worker.on('message', (r: WriterReport) => this.take(r));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the file writer stopped (exit code ${code})`)));
  }

  /** The shared memory that reserved spans are offsets into. */
  get memory(): SharedArrayBuffer {
    return this.ring.memory;
  }

  /**
   * The most a restore may hold in the ring while it waits for room, and the largest span it may
   * ask for: a third of the ring. Room for a span of n bytes is certain once at most ring - 2n
   * bytes are held (a span that does not fit before the end skips what is left there).
   */
  get spanLimit(): number {
    return Math.floor(this.ring.size / 3);
  }

  /** The bytes of a span. */
  view(s: RingSpan): Uint8Array {
    return new Uint8Array(this.ring.memory, s.offset, s.length);
  }

  /** A span of `length` bytes (at most spanLimit), or undefined while the ring is full. */
  tryReserve(length: number): Reserved | undefined {
    const taken = this.ring.take(length);
    return taken && { offset: taken.offset, length, cost: taken.cost };
  }

  /** A span of `length` bytes, waiting while the ring is full. */
  async reserve(length: number): Promise<Reserved> {
    for (;;) {
      const r = this.tryReserve(length);
      if (r) return r;
      this.flush(true); // jobs and releases waiting to be posted hold ring space too
      if (this.posted.length === 0) throw new Error(`the file writer's ring holds no ${length} bytes that will be freed`);
      await this.waitForReport();
    }
  }

  /** Gives a span back, in the order spans were reserved, once every job reading it is handed over. */
  release(r: Reserved): void {
    this.released += r.cost;
  }

  writeWhole(file: PlacedFile, content: RingSpan[]): void {
    this.push(
      { op: 'whole', id: this.nextId++, file, content },
      content.reduce((n, s) => n + s.length, 0),
    );
  }

  /** Starts a file written piece by piece; returns its id for append() and finish(). */
  open(file: PlacedFile): number {
    const id = this.nextId++;
    this.push({ op: 'open', id, file });
    return id;
  }

  append(id: number, content: RingSpan): void {
    this.push({ op: 'append', id, content }, content.length);
  }

  /** Ends a file opened with open(): puts it in place, or with `commit` false removes what was written. */
  finish(id: number, commit: boolean): void {
    this.push({ op: 'close', id, commit });
  }

  /** Makes a symlink at `path` (absolute) that reads `linkText`. */
  /** A symlink, with its own owner (as root) and time. */
  symlink(path: string, linkText: string, a: FileOwner): void {
    this.push({ op: 'symlink', id: this.nextId++, path, linkText, owner: { uid: a.uid, gid: a.gid, mtimeS: a.mtimeS, mtimeNs: a.mtimeNs } });
  }

  /** Sets a folder's owner, mode and times (after what goes into it, which would change its mtime). */
  folderAttributes(target: string, attributes: FileAttributes): void {
    this.push({ op: 'folder', id: this.nextId++, target, attributes });
  }

  /**
   * Waits while the worker has many messages to answer: tiny files take little of the ring, and
   * without this a restore of millions would hand over their jobs far faster than they are written.
   */
  async room(): Promise<void> {
    while (this.sentMessages - this.answeredMessages > MAX_UNANSWERED && !this.failure && !this.stopped) await this.waitForReport();
  }

  /** Waits until everything handed over is written; throws the first failure. */
  async drain(): Promise<void> {
    this.flush(true);
    while (this.posted.length > 0 && !this.failure) await this.waitForReport();
    this.throwFailure();
  }

  /**
   * Stops the writer. Jobs posted already are carried out (a file is never cut short under its
   * name by stopping the thread mid-write), jobs not posted are dropped, and files streamed under
   * a temporary name and not finished are removed.
   */
  async close(): Promise<void> {
    if (!this.stopped) {
      this.jobs = [];
      this.worker.postMessage([{ op: 'abandon', id: 0 } satisfies WriterJob]);
      this.posted.push(0);
      while (this.posted.length > 0 && !this.stopped) await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.stopped = true;
    await this.worker.terminate();
  }

  private push(job: WriterJob, bytes = 0): void {
    this.throwFailure();
    this.jobs.push(job);
    this.jobBytes += bytes;
    if (this.jobs.length >= BATCH_JOBS || this.jobBytes >= BATCH_BYTES) this.flush(false);
  }

  /** Posts the jobs waiting; with `always`, an empty message too, to carry the releases back. */
  private flush(always: boolean): void {
    this.throwFailure();
    if (this.jobs.length === 0 && !(always && this.released > 0)) return;
    this.worker.postMessage(this.jobs);
    this.sentMessages++;
    this.posted.push(this.released);
    this.jobs = [];
    this.jobBytes = 0;
    this.released = 0;
  }

  private take(r: WriterReport): void {
    this.ring.free(this.posted.shift() ?? 0);
    for (const w of r.warnings) this.onWarning(w.path, w.message);
    for (const f of r.failures) {
      if (this.onFileFailure) this.onFileFailure(f.path, f.message);
      else this.failure ??= Object.assign(new Error(f.message), f.code ? { code: f.code } : {});
    }
    this.answeredMessages++;
    this.onAnswered();
    this.notify();
    this.onFreed();
  }

  /** The worker died (or was stopped): nothing more will be written or answered. */
  private fail(e: Error): void {
    if (!this.stopped) this.failure ??= new WriterStopped(e.message, { cause: e });
    this.stopped = true;
    this.notify();
  }

  private notify(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  private waitForReport(): Promise<void> {
    this.throwFailure();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }
}
