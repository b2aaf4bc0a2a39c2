// Puts restored files, symlinks and folder attributes on disk from worker threads that make
// synchronous system calls. Through the thread pool each call costs the main thread about 40 µs
// and every file takes six or seven of them (open, write, chown, chmod, utimes, close, rename): for
// 100,000 small files that was most of a restore. A worker creates each file with O_EXCL (never
// through a symlink, never over something that appeared meanwhile), sets its owner, mode and times
// on the open descriptor, and renames a temporary file into place only where that is needed: over
// an existing file, or for a file streamed piece by piece.
//
// Restoring tiny files is the kernel creating inodes, and one thread doing that was the whole
// restore's pace. So there are several writers (lanes), and each takes whole folders in turn:
// files of one folder would contend for its lock, files of two folders are made side by side.
// A folder's attributes wait until everything handed over before them is done, in every lane.
//
// Content is never copied on its way: the chunks are decoded straight into a ring of shared
// memory that the writers share (reserve()), jobs name spans of it, and a chunk's span is given
// back (release()) once every job reading it is handed over; it is free again once every lane
// has done the jobs posted with it or before. Nothing is allocated per chunk or per file.

import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Fifo } from '../fifo.js';
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

/** A file, link or folder the writer could not write (and removed what it wrote of it). */
export interface WriterFailure {
  /** absolute */
  path: string;
  message: string;
  code?: string;
}

/** The worker's answer to each message of jobs, in order: what it wrote, and what failed, each a file (or link, or folder) of its own. */
export interface WriterReport {
  /** files and symlinks put in place, and the files' bytes */
  written: { files: number; bytes: number };
  failures: WriterFailure[];
  /** written, but an attribute could not be set (an extended attribute the target file system refuses) */
  warnings: { path: string; message: string }[];
}

/** The writer thread is gone: nothing more can be written. Any other failure belongs to one file. */
export class WriterStopped extends Error {}

/** jobs are posted when this many wait, or when they read this many bytes: the workers are never idle long */
const BATCH_JOBS = 256;
const BATCH_BYTES = 1 << 20;
/** posts a lane may have yet to answer before room() waits: 8 × 256 jobs each */
const MAX_UNANSWERED_PER_LANE = 8;
/** writers beyond the cores only contend; beyond four, for the locks of the file system */
export const WRITER_LANES = Math.max(1, Math.min(4, availableParallelism()));

/** One writer thread, and its jobs waiting to be posted. */
interface Lane {
  worker: Worker;
  /** the thread runs: it has not failed, exited or been stopped */
  alive: boolean;
  jobs: WriterJob[];
  /** the post each message sent to it and not yet answered belongs to, oldest first */
  posts: Fifo<number>;
}

/** What went out at one flush: messages to one or more lanes, and the ring bytes freed once all of them (and all before) are answered. */
interface Post {
  released: number;
  unanswered: number;
}

export class FileWriter {
  /** ring space was freed */
  onFreed: () => void = () => {};
  /**
   * Told of each file, link or folder that could not be written; the writer goes on with the
   * others. Without it the first such failure stops the writer.
   */
  onFileFailure: ((f: WriterFailure) => void) | undefined;
  /** Told of each file written without one of its attributes (absolute path, reason). */
  onWarning: (path: string, reason: string) => void = () => {};
  /** Told of files and symlinks put in place (counted once there, not when handed over, so a file that fails is never counted). */
  onWritten: (files: number, bytes: number) => void = () => {};
  private readonly ring: ContentRing;
  private readonly lanes: Lane[];
  /** the lane a new folder's files go to next, and the folder the last file was in */
  private lane = 0;
  private folder: string | undefined;
  /** the lane of each file opened and not yet finished */
  private readonly laneOfOpen = new Map<number, Lane>();
  /** folder jobs waiting for every post before them to be answered: `after` posts */
  private deferred = new Fifo<{ after: number; job: WriterJob }>();
  /** content bytes the waiting jobs read */
  private jobBytes = 0;
  /** ring bytes released since the last post: freed when it and every post before it are answered */
  private released = 0;
  /** posts not yet all answered, oldest first; the first is post number answeredMessages */
  private readonly posts = new Fifo<Post>();
  private nextId = 1;
  /** posts sent to the workers, and those answered by every lane (the oldest first) */
  private sentMessages = 0;
  private answeredMessages = 0;
  private failure: Error | undefined;
  /** a worker is gone, or all are going */
  private stopped = false;
  private waiting: (() => void)[] = [];

  constructor(ringBytes: number, lanes = WRITER_LANES) {
    this.ring = new ContentRing(ringBytes);
    const setup: WriterSetup = { ring: this.ring.memory };
    this.lanes = Array.from({ length: lanes }, () => {
      const lane: Lane = { worker: new Worker(workerFile('restore/file-writer-worker.js'), { workerData: setup }), alive: true, jobs: [], posts: new Fifo() };
      lane.worker.on('message', (r: WriterReport) => this.take(lane, r));
      lane.worker.on('error', (e) => this.fail(lane, e));
      lane.worker.on('exit', (code) => this.fail(lane, new Error(`the file writer stopped (exit code ${code})`)));
      return lane;
    });
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
      if (this.posts.length === 0) throw new Error(`the file writer's ring holds no ${length} bytes that will be freed`);
      await this.waitForReport();
    }
  }

  /** Gives a span back, in the order spans were reserved, once every job reading it is handed over. */
  release(r: Reserved): void {
    this.released += r.cost;
  }

  writeWhole(file: PlacedFile, content: RingSpan[]): void {
    this.push(
      this.laneFor(file.target),
      { op: 'whole', id: this.nextId++, file, content },
      content.reduce((n, s) => n + s.length, 0),
    );
  }

  /** Starts a file written piece by piece; returns its id for append() and finish(). */
  open(file: PlacedFile): number {
    const id = this.nextId++;
    const lane = this.laneFor(file.target);
    this.laneOfOpen.set(id, lane);
    this.push(lane, { op: 'open', id, file });
    return id;
  }

  append(id: number, content: RingSpan): void {
    this.push(this.laneOf(id), { op: 'append', id, content }, content.length);
  }

  /** Ends a file opened with open(): puts it in place, or with `commit` false removes what was written. */
  finish(id: number, commit: boolean): void {
    const lane = this.laneOf(id);
    this.laneOfOpen.delete(id);
    this.push(lane, { op: 'close', id, commit });
  }

  /** A symlink at `path` (absolute) that reads `linkText`, with its own owner (as root) and time. */
  symlink(path: string, linkText: string, a: FileOwner): void {
    this.push(this.laneFor(path), { op: 'symlink', id: this.nextId++, path, linkText, owner: { uid: a.uid, gid: a.gid, mtimeS: a.mtimeS, mtimeNs: a.mtimeNs } });
  }

  /**
   * Sets a folder's owner, mode and times after what goes into it, which would change its mtime:
   * once every job handed over before this, in every lane, is done.
   */
  folderAttributes(target: string, attributes: FileAttributes): void {
    const waitingToPost = this.lanes.some((l) => l.jobs.length > 0);
    const job: WriterJob = { op: 'folder', id: this.nextId++, target, attributes };
    this.deferred.push({ after: this.sentMessages + (waitingToPost ? 1 : 0), job });
    this.postDeferred();
  }

  /**
   * Waits while the workers have many messages to answer: tiny files take little of the ring, and
   * without this a restore of millions would hand over their jobs far faster than they are written.
   */
  async room(): Promise<void> {
    while (this.backlogged) await this.waitForReport();
  }

  /** room() would wait. */
  get backlogged(): boolean {
    return this.sentMessages - this.answeredMessages > MAX_UNANSWERED_PER_LANE * this.lanes.length && !this.failure && !this.stopped;
  }

  /** Waits until everything handed over is written; throws the first failure. */
  async drain(): Promise<void> {
    for (;;) {
      this.postDeferred();
      this.flush(true);
      if (this.posts.length === 0 && this.deferred.length === 0) break;
      if (this.failure) break;
      await this.waitForReport();
    }
    this.throwFailure();
  }

  /**
   * Stops the writers. Jobs posted already are carried out (a file is never cut short under its
   * name by stopping the thread mid-write), jobs not posted are dropped, and files streamed under
   * a temporary name and not finished are removed: by every thread still running, if one failed.
   */
  async close(): Promise<void> {
    this.stopped = true;
    this.deferred = new Fifo();
    const live = this.lanes.filter((l) => l.alive);
    for (const lane of this.lanes) lane.jobs = lane.alive ? [{ op: 'abandon', id: 0 }] : [];
    if (live.length > 0) this.post();
    while (live.some((l) => l.alive && l.posts.length > 0)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    for (const lane of this.lanes) lane.alive = false;
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  /** The lane of a new file, link or folder: the last one's while the folder stays the same, the next one's from a new folder on. */
  private laneFor(target: string): Lane {
    const folder = path.dirname(target);
    if (folder !== this.folder) {
      this.folder = folder;
      this.lane = (this.lane + 1) % this.lanes.length;
    }
    return this.lanes[this.lane]!;
  }

  private laneOf(id: number): Lane {
    const lane = this.laneOfOpen.get(id);
    if (!lane) throw new Error(`the file writer has no open file ${id}`);
    return lane;
  }

  private push(lane: Lane, job: WriterJob, bytes = 0): void {
    this.throwFailure();
    lane.jobs.push(job);
    this.jobBytes += bytes;
    if (lane.jobs.length >= BATCH_JOBS || this.jobBytes >= BATCH_BYTES) this.flush(false);
  }

  /** Posts the jobs waiting; with `always`, an empty message too, to carry the releases back. */
  private flush(always: boolean): void {
    this.throwFailure();
    if (this.lanes.every((l) => l.jobs.length === 0) && !(always && this.released > 0)) return;
    this.post();
  }

  /** Sends each lane its waiting jobs (the first lane an empty message if none wait) as one post. */
  private post(): void {
    const number = this.sentMessages++;
    const sending = this.lanes.filter((l) => l.jobs.length > 0);
    if (sending.length === 0) sending.push(this.lanes[0]!);
    for (const lane of sending) {
      lane.worker.postMessage(lane.jobs);
      lane.posts.push(number);
      lane.jobs = [];
    }
    this.posts.push({ released: this.released, unanswered: sending.length });
    this.jobBytes = 0;
    this.released = 0;
  }

  private take(lane: Lane, r: WriterReport): void {
    if (r.written.files > 0) this.onWritten(r.written.files, r.written.bytes);
    for (const w of r.warnings) this.onWarning(w.path, w.message);
    for (const f of r.failures) {
      if (this.onFileFailure) this.onFileFailure(f);
      else this.failure ??= Object.assign(new Error(f.message), f.code ? { code: f.code } : {});
    }
    const number = lane.posts.shift()!;
    this.posts.at(number - this.answeredMessages)!.unanswered--;
    let answered = false;
    while (this.posts.peek()?.unanswered === 0) {
      this.ring.free(this.posts.shift()!.released);
      this.answeredMessages++;
      answered = true;
    }
    if (answered) this.postDeferred();
    this.notify();
    this.onFreed();
  }

  /**
   * Hands the folder jobs whose posts before them are all answered to the first lane, always the
   * same one: folders deepest first, as they were handed over (a folder's own attributes may
   * take away the access its subfolders' need).
   */
  private postDeferred(): void {
    if (this.stopped) return;
    while ((this.deferred.peek()?.after ?? Number.POSITIVE_INFINITY) <= this.answeredMessages) {
      this.lanes[0]!.jobs.push(this.deferred.shift()!.job); // posted with the next jobs, or by drain(): never from a worker's answer, which must not throw
    }
  }

  /** A worker died (or was stopped): nothing more will be written, nor answered by it. */
  private fail(lane: Lane, e: Error): void {
    if (!this.stopped) this.failure ??= new WriterStopped(e.message, { cause: e });
    this.stopped = true;
    lane.alive = false;
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
