// The head of a backup: reads the files to back up, in order, as one stream and cuts it into
// content-defined chunks in a worker thread. The worker reads with synchronous calls into one
// reused buffer: through the thread pool every call would cost the main thread about 40 µs and
// every file a buffer to collect, which on 60,000 files is most of what a backup spends. Reading
// and cutting keep that thread busy, so the main thread hashes: each chunk (keyed) and each file
// (SHA-256, from the chunks). A window of credit bounds the chunk bytes between the two threads.

import { Worker } from 'node:worker_threads';
import type { ChunkSizes } from '../format/config.js';
import { chunkHashOf } from '../crypto/keys.js';
import type { ChunkHash } from '../format/ids.js';
import { type FileFed, type FileRead, StreamHasher } from './stream-hasher.js';
import { workerFile } from './worker-file.js';

export type { FileRead } from './stream-hasher.js';

export interface StreamReaderInput {
  root: string;
  /** relative paths of the files to read, in stream order */
  paths: string[];
  /** the sizes the scan saw, which let a small file be read in one call */
  sizes: number[];
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  /** shared Int32Array: [0] credit in bytes the worker may still send, [1] stop flag */
  control: SharedArrayBuffer;
}

/** Worker to main thread, in stream order; file results ride along with the next message. */
export type StreamMessage = { chunk?: Uint8Array; files: FileFed[]; end?: true };

export type StreamEvent = { kind: 'chunk'; data: Buffer; hash: ChunkHash } | { kind: 'file'; read: FileRead };

export interface StreamOptions {
  root: string;
  files: readonly { path: string; size: number }[];
  chunkSizes: ChunkSizes;
  chunkSeed: Uint8Array;
  hashKey: Uint8Array;
  /** chunk bytes read ahead of the consumer */
  windowBytes?: number;
}

export const CREDIT = 0;
export const STOP = 1;

/**
 * Yields the stream's chunks and each file's result, in order. A chunk's bytes count against the
 * window until the consumer asks for the next event. Leaving the loop early stops the worker.
 */
export async function* readStream(o: StreamOptions): AsyncGenerator<StreamEvent> {
  if (o.files.length === 0) return; // an unchanged tree: no thread to start
  const control = new SharedArrayBuffer(8);
  const shared = new Int32Array(control);
  shared[CREDIT] = Math.max(o.windowBytes ?? 16 << 20, o.chunkSizes.maximum);
  const input: StreamReaderInput = {
    root: o.root,
    paths: o.files.map((f) => f.path),
    sizes: o.files.map((f) => f.size),
    chunkSizes: o.chunkSizes,
    chunkSeed: o.chunkSeed,
    control,
  };
  const worker = new Worker(workerFile('stream-reader-worker.js'), { workerData: input });
  const inbox = new Inbox<StreamMessage>();
  worker.on('message', (m: StreamMessage) => inbox.put(m));
  worker.on('error', (e) => inbox.fail(e));
  worker.on('exit', (code) => inbox.fail(new Error(`the stream reader stopped (exit code ${code})`)));
  const hasher = new StreamHasher();
  try {
    for (;;) {
      const m = await inbox.take();
      for (const read of hasher.addReports(m.files)) yield { kind: 'file', read };
      if (m.chunk) {
        const data = Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
        const length = data.length; // the consumer may hand the chunk's memory to another thread
        const done = hasher.addChunk(data);
        yield { kind: 'chunk', data, hash: chunkHashOf(o.hashKey, data) };
        for (const read of done) yield { kind: 'file', read };
        Atomics.add(shared, CREDIT, length);
        Atomics.notify(shared, CREDIT);
      }
      if (m.end) return;
    }
  } finally {
    Atomics.store(shared, STOP, 1);
    Atomics.notify(shared, CREDIT);
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
