// The head of a backup: reads the files to back up, in order, as one stream and cuts it into
// content-defined chunks in a worker thread. The worker reads with synchronous calls straight into
// a ring of shared memory and finds the cuts there: through the thread pool every call would cost
// the main thread about 40 µs, and a buffer per chunk or file, passed between threads and
// collected later, was most of what a backup spent on memory. Reading and cutting keep that thread
// busy, so the main thread hashes: each chunk (keyed) and each file (SHA-256, from the chunks). A
// chunk's bytes stay in the ring until the consumer releases them (once they are encoded, or at
// once when the storage has the chunk), in any order; the ring is given back oldest first.

import { Worker } from 'node:worker_threads';
import { chunkHashOf } from '../crypto/keys.js';
import type { ChunkSizes } from '../format/config.js';
import type { ChunkHash } from '../format/ids.js';
import { ReleaseInOrder } from '../storage/release-in-order.js';
import { workerFile } from '../storage/worker-file.js';
import { type FileFed, type FileRead, StreamHasher } from './stream-hasher.js';

export type { FileRead } from './stream-hasher.js';

export interface StreamReaderInput {
  root: string;
  /** relative paths of the files to read, in stream order */
  paths: string[];
  /** the sizes the scan saw, which let a small file be read in one call */
  sizes: number[];
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  /** the ring the files are read into */
  ring: SharedArrayBuffer;
  /** shared Int32Array: [FREED] stream offset up to which the ring is given back (mod 2^32), [STOP] */
  control: SharedArrayBuffer;
}

/**
 * Where a chunk sits in the ring, and the ring position (a count of bytes that went into the
 * ring, copies made to wrap included) up to which the ring is free once it is given back.
 */
export interface RingChunk {
  offset: number;
  length: number;
  end: number;
}

/** Worker to main thread, in stream order; file results ride along with the next message. */
export type StreamMessage = { chunk?: RingChunk; files: FileFed[]; end?: true };

/**
 * A chunk's bytes are a view of the ring, valid until release() is called; a consumer that
 * keeps them longer copies them.
 */
export type StreamEvent = { kind: 'chunk'; data: Buffer; hash: ChunkHash; release: () => void } | { kind: 'file'; read: FileRead };

export interface StreamOptions {
  root: string;
  files: readonly { path: string; size: number }[];
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  hashKey: Uint8Array;
  /** bytes of the ring (default and at least twice the maximum chunk size, which the reader's wrapping needs) */
  ringBytes?: number;
}

export const FREED = 0;
export const STOP = 1;

/**
 * Yields the stream's chunks and each file's result, in order. Leaving the loop early stops the
 * worker.
 */
export async function* readStream(o: StreamOptions): AsyncGenerator<StreamEvent> {
  if (o.files.length === 0) return; // an unchanged tree: no thread to start
  const ring = new SharedArrayBuffer(Math.max(o.ringBytes ?? 0, 2 * o.chunkSizes.maximum));
  const control = new SharedArrayBuffer(8);
  const input: StreamReaderInput = {
    root: o.root,
    paths: o.files.map((f) => f.path),
    sizes: o.files.map((f) => f.size),
    chunkSizes: o.chunkSizes,
    chunkSeed: o.chunkSeed,
    ring,
    control,
  };
  const shared = new Int32Array(control);
  const worker = new Worker(workerFile('backup/stream-reader-worker.js'), { workerData: input });
  const inbox = new Inbox<StreamMessage>();
  worker.on('message', (m: StreamMessage) => inbox.put(m));
  worker.on('error', (e) => inbox.fail(e));
  worker.on('exit', (code) => inbox.fail(new Error(`the stream reader stopped (exit code ${code})`)));
  const hasher = new StreamHasher();
  // chunks released in any order give the ring back up to the oldest one still held
  const giveBack = new ReleaseInOrder<number>((end) => {
    Atomics.store(shared, FREED, (end % 2 ** 32) | 0);
    Atomics.notify(shared, FREED);
  });
  try {
    for (;;) {
      const m = await inbox.take();
      for (const read of hasher.addReports(m.files)) yield { kind: 'file', read };
      if (m.chunk) {
        const data = Buffer.from(ring, m.chunk.offset, m.chunk.length);
        const done = hasher.addChunk(data);
        yield { kind: 'chunk', data, hash: chunkHashOf(o.hashKey, data), release: giveBack.add(m.chunk.end) };
        for (const read of done) yield { kind: 'file', read };
      }
      if (m.end) return;
    }
  } finally {
    Atomics.store(shared, STOP, 1);
    Atomics.notify(shared, FREED);
    await worker.terminate();
  }
}

/** Messages waiting to be taken, or the error that ends them. */
class Inbox<T> {
  private readonly queue: T[] = [];
  private waiting: { resolve: (m: T) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  put(m: T): void {
    if (this.waiting) {
      this.waiting.resolve(m);
      this.waiting = undefined;
    } else {
      this.queue.push(m);
    }
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.waiting?.reject(this.failure);
    this.waiting = undefined;
  }

  take(): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}
