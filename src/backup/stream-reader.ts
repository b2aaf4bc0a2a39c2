// The head of a backup: reads the files to back up, in order, as one stream and cuts it into
// content-defined chunks in a worker thread. The worker reads with synchronous calls straight into
// a ring of shared memory and finds the cuts there: through the thread pool every call would cost
// the main thread about 40 µs, and a buffer per chunk or file, passed between threads and
// collected later, was most of what a backup spent on memory. The hashing is off the main thread,
// which hands every chunk on and every stored one back, and a backup went at its pace (hashing off
// it took the small corpus's backup from 6.4 s to 5.7). Each chunk (keyed) and the files lying
// within it (SHA-256) are hashed once it is cut, in the codec workers (hashChunk) or else in the
// reader's thread; a file that a cut falls in is hashed by the reader as it reads it. A chunk's
// bytes stay in the ring until the consumer releases them (once they are encoded, or at once when
// the storage has the chunk), in any order; the ring is given back oldest first.

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { HASH_BYTES } from '../crypto/chunk-hashes.js';
import { Fifo } from '../fifo.js';
import type { ChunkSizes } from '../format/config.js';
import type { ExtendedAttribute } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import { Inbox } from '../inbox.js';
import { ReleaseInOrder } from '../storage/release-in-order.js';
import { workerFile } from '../storage/worker-file.js';

/**
 * What the reader says of a file: the bytes it put into the stream, and their SHA-256 (hex) or
 * why it failed; neither where the file lies within one chunk, whose hashes bring the file's.
 */
export interface FileFed {
  fed: number;
  sha256?: string;
  error?: string;
  /** where StreamOptions.xattrs: the file's extended attributes, if it has any, or why they could not be read */
  xattrs?: ExtendedAttribute[];
  xattrsError?: string;
}

/** A file's outcome: its bytes in the stream, and its SHA-256 or why it failed; its extended attributes as in FileFed. */
export interface FileRead {
  fed: number;
  hash?: Buffer;
  error?: string;
  xattrs?: ExtendedAttribute[];
  xattrsError?: string;
}

export interface StreamReaderInput {
  root: string;
  /** the key of chunk hashes, unless the chunks are hashed on another thread (StreamOptions.hashChunk) */
  hashKey?: Uint8Array;
  /** read each file's extended attributes too (StreamOptions.xattrs) */
  xattrs: boolean;
  /** where the files to read come from, a batch at a time (a StreamCommand each) */
  commands: MessagePort;
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  /** the ring the files are read into */
  ring: SharedArrayBuffer;
  /** shared Int32Array: [FREED] stream offset up to which the ring is given back (mod 2^32), [STOP], [SENT] commands sent */
  control: SharedArrayBuffer;
}

/**
 * Main thread to worker: files to read next (relative paths, and the sizes the scan saw, which
 * let a small file be read in one call); a cut of the chunk under way at the end of what was read,
 * so that the files in it are complete although no more come for now; the end of the stream.
 */
export type StreamCommand = { files: { path: string; size: number }[] } | { cut: true } | { end: true };

/**
 * Where a chunk sits in the ring, and the ring position (a count of bytes that went into the
 * ring, copies made to wrap included) up to which the ring is free once it is given back.
 */
export interface RingChunk {
  offset: number;
  length: number;
  end: number;
  /** the files within the chunk whose hashes come with its (FileFed), in order: pairs of start in the chunk and length */
  files: Uint32Array;
  /** the chunk's hashes (see chunkAndFileHashes), absent where they are taken on another thread */
  hashes?: Uint8Array;
}

/** Worker to main thread, in stream order: the files finished before the chunk was cut, then the chunk, if any. */
export type StreamMessage = { chunk?: RingChunk; files: FileFed[]; end?: true };

/** A message as the main thread keeps it: with the chunk's hashes under way where the worker did not take them. */
type Received = StreamMessage & { hashing?: Promise<Uint8Array> };

/**
 * A chunk's bytes are a view of the ring, valid until release() is called; a consumer that
 * keeps them longer copies them. Files come as many as are complete at a time (an event each was
 * a fifth of the garbage of a backup's main thread).
 */
export type StreamEvent = { kind: 'chunk'; data: Buffer; hash: ChunkHash; release: () => void } | { kind: 'files'; reads: FileRead[] };

export interface StreamOptions {
  root: string;
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  hashKey: Uint8Array;
  /**
   * Takes a chunk's hashes (chunkAndFileHashes, with hashKey) elsewhere, a codec worker: the
   * reader's thread is the busiest of a backup, and on two cores it held the others up (see
   * stream-reader-worker.ts). The chunk's bytes stay in the ring until its hashes have come.
   * Without it, the reader hashes.
   */
  hashChunk?: (data: Uint8Array, files: Uint32Array) => Promise<Uint8Array>;
  /** bytes of the ring (default and at least twice the maximum chunk size, which the reader's wrapping needs) */
  ringBytes?: number;
  /**
   * Read each file's extended attributes, through the descriptor the file is read with: for a
   * backup whose walk left them (ScanOptions.leaveFileXattrs), so that a file's path is looked up once,
   * not twice (an lstat and a list of attributes cost the main thread 10 and 6 µs a file).
   */
  xattrs?: boolean;
}

export const FREED = 0;
export const STOP = 1;
export const SENT = 2;

/**
 * Reads the files it is fed as one stream, in a worker started with the first of them. Files are
 * fed while the scan goes on; events() yields the stream's chunks and each file's result, in
 * order. Leaving events() early stops the worker.
 */
export class StreamReader {
  private readonly ring: SharedArrayBuffer;
  private readonly shared: Int32Array;
  private readonly channel = new MessageChannel();
  private readonly inbox = new Inbox<Received>();
  private worker: Worker | undefined;
  private fed = 0;
  private reported = 0;
  private ended = false;
  private roomWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly o: StreamOptions) {
    this.ring = new SharedArrayBuffer(Math.max(o.ringBytes ?? 0, 2 * o.chunkSizes.maximum));
    this.shared = new Int32Array(new SharedArrayBuffer(12));
  }

  /** Files fed and not read yet. */
  get unread(): number {
    return this.fed - this.reported;
  }

  feed(files: { path: string; size: number }[]): void {
    if (files.length === 0) return;
    this.start();
    this.fed += files.length;
    this.send({ files });
  }

  /** Ends the chunk under way at the end of the files fed so far (see StreamCommand). */
  cut(): void {
    if (this.worker) this.send({ cut: true });
  }

  end(): void {
    this.ended = true;
    if (this.worker) this.send({ end: true });
    else this.inbox.put({ files: [], end: true });
  }

  /** Resolves once at most `max` files fed are still unread. */
  async room(max: number): Promise<void> {
    while (this.unread > max) {
      if (this.stopped) throw new Error('the stream reader has stopped');
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  private send(c: StreamCommand): void {
    this.channel.port1.postMessage(c);
    Atomics.add(this.shared, SENT, 1);
    Atomics.notify(this.shared, SENT);
  }

  private start(): void {
    if (this.worker || this.ended) return;
    const input: StreamReaderInput = {
      root: this.o.root,
      ...(this.o.hashChunk ? {} : { hashKey: this.o.hashKey }),
      xattrs: this.o.xattrs ?? false,
      commands: this.channel.port2,
      chunkSizes: this.o.chunkSizes,
      chunkSeed: this.o.chunkSeed,
      ring: this.ring,
      control: this.shared.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(workerFile('backup/stream-reader-worker.js'), { workerData: input, transferList: [this.channel.port2] });
    worker.on('message', (m: StreamMessage) => this.inbox.put(this.received(m)));
    worker.on('error', (e) => this.inbox.fail(e));
    worker.on('exit', (code) => this.inbox.fail(new Error(`the stream reader stopped (exit code ${code})`)));
    this.worker = worker;
  }

  /** Starts the chunk's hashes as soon as the chunk comes, so that chunks are hashed side by side. */
  private received(m: StreamMessage): Received {
    if (!m.chunk || m.chunk.hashes !== undefined || !this.o.hashChunk) return m;
    const hashing = this.o.hashChunk(new Uint8Array(this.ring, m.chunk.offset, m.chunk.length), m.chunk.files);
    hashing.catch(() => {}); // awaited by events(), unless it stopped first
    return { ...m, hashing };
  }

  async *events(): AsyncGenerator<StreamEvent> {
    const files = new FilesInStream();
    // chunks released in any order give the ring back up to the oldest one still held
    const giveBack = new ReleaseInOrder<number>((end) => {
      Atomics.store(this.shared, FREED, (end % 2 ** 32) | 0);
      Atomics.notify(this.shared, FREED);
    });
    try {
      for (;;) {
        const m = await this.inbox.take();
        this.reported += m.files.length;
        if (m.files.length > 0) this.wakeFeeders();
        files.add(m.files);
        if (files.anyComplete()) yield { kind: 'files', reads: files.complete() };
        if (m.chunk) {
          const hashes = m.chunk.hashes ?? (await m.hashing!);
          files.chunked(m.chunk.length, Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength));
          const hash = Buffer.from(hashes.buffer, hashes.byteOffset, HASH_BYTES).toString('hex') as ChunkHash;
          yield { kind: 'chunk', data: Buffer.from(this.ring, m.chunk.offset, m.chunk.length), hash, release: giveBack.add(m.chunk.end) };
          if (files.anyComplete()) yield { kind: 'files', reads: files.complete() };
        }
        if (m.end) return;
      }
    } finally {
      await this.stop();
    }
  }

  private wakeFeeders(): void {
    const waiting = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiting) wake();
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.shared, STOP, 1);
    Atomics.notify(this.shared, FREED);
    Atomics.notify(this.shared, SENT);
    this.channel.port1.close();
    this.wakeFeeders();
    await this.worker?.terminate();
  }
}

/**
 * The files the reader reported, until the chunks that hold their bytes have come: a file's
 * entry takes its range in the chunk sequence, so it waits for the chunk its last byte is in.
 * Small files pile up in the chunk under way; a large one is cut many times before it ends.
 */
class FilesInStream {
  private readonly waiting = new Fifo<{ read: FileRead; end: number }>();
  /** the files whose hashes come with their chunk's, in order */
  private readonly unhashed = new Fifo<FileRead>();
  /** stream offsets: the end of the files reported, and of the chunks that came */
  private fedEnd = 0;
  private chunkedEnd = 0;

  add(reports: readonly FileFed[]): void {
    for (const { fed, sha256, error, xattrs, xattrsError } of reports) {
      this.fedEnd += fed;
      // a hash kept for every file of a backup: in the shared buffer pool, not in an ArrayBuffer of its own
      const read: FileRead = error !== undefined ? { fed, error } : sha256 !== undefined ? { fed, hash: Buffer.from(sha256, 'hex') } : { fed };
      if (error === undefined && sha256 === undefined) this.unhashed.push(read);
      // a Buffer arrives from the reader's thread as a plain Uint8Array
      if (xattrs) read.xattrs = xattrs.map(({ name, value }) => ({ name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) }));
      if (xattrsError !== undefined) read.xattrsError = xattrsError;
      this.waiting.push({ read, end: this.fedEnd });
    }
  }

  /** A chunk came, with its hashes: its own, then those of the files within it. */
  chunked(length: number, hashes: Buffer): void {
    this.chunkedEnd += length;
    for (let at = HASH_BYTES; at < hashes.length; at += HASH_BYTES) {
      const read = this.unhashed.shift();
      if (read === undefined) throw new Error('the stream reader sent hashes of more files than it read');
      read.hash = hashes.subarray(at, at + HASH_BYTES);
    }
  }

  anyComplete(): boolean {
    const next = this.waiting.peek();
    return next !== undefined && next.end <= this.chunkedEnd;
  }

  /** The files whose bytes have all come, in stream order. */
  complete(): FileRead[] {
    const reads: FileRead[] = [];
    while (this.anyComplete()) reads.push(this.waiting.shift()!.read);
    return reads;
  }
}

/** The stream of a list of files known in advance. */
export async function* readStream(o: StreamOptions & { files: readonly { path: string; size: number }[] }): AsyncGenerator<StreamEvent> {
  const reader = new StreamReader(o);
  reader.feed([...o.files]);
  reader.end();
  yield* reader.events();
}
