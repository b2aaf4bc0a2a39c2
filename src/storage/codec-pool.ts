// A small pool of worker threads that encode (compress, encrypt) and decode objects, and hash a
// backup's chunks, so the CPU work of a backup or restore spreads over the cores.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DbkError, type ErrorCode } from '../errors.js';
import type { ObjectKind } from '../format/object.js';
import { workerFile } from './worker-file.js';

export type CodecRequest =
  | { id: number; op: 'encode'; data: Uint8Array; kind: ObjectKind; key?: Uint8Array; compressionLevel: number; into?: SharedSpan }
  | { id: number; op: 'decode'; data: Uint8Array; kind: ObjectKind; key?: Uint8Array; maxLength: number; what: string; verify?: HashCheck }
  | { id: number; op: 'decodeInto'; data: Uint8Array; kind: ObjectKind; key?: Uint8Array; what: string; verify?: HashCheck; into: SharedSpan }
  /** a chunk's keyed hash and its files' (crypto/chunk-hashes.ts), with the hash key: the answer is their bytes */
  | { id: number; op: 'hash'; data: Uint8Array; key: Uint8Array; files: Uint32Array };

/** Bytes of shared memory a worker writes its result into (the answer's data is then empty, its length the bytes written). */
export interface SharedSpan {
  memory: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** The keyed hash (see crypto/keys.ts) the decoded plaintext must have. */
export interface HashCheck {
  hashKey: Uint8Array;
  hash: string;
}

export type CodecResponse = { id: number; ok: true; data: Uint8Array; length: number } | { id: number; ok: false; code: ErrorCode; message: string };

type Pending = { resolve: (r: { data: Buffer; length: number }) => void; reject: (e: Error) => void };
type Slot = { worker: Worker; busy: number };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class CodecPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending & { slot: Slot }>();
  private nextId = 1;
  /** why the pool stopped working: a worker died, or close() */
  private broken: Error | undefined;

  constructor(size = Math.max(1, Math.min(4, availableParallelism()))) {
    const file = workerFile('storage/codec-worker.js');
    for (let i = 0; i < size; i++) {
      const worker = new Worker(file);
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (res: CodecResponse) => this.settle(res));
      worker.on('error', (e) => void this.failAll(e));
      worker.on('exit', (code) => void this.failAll(new Error(`a codec worker stopped (exit code ${code})`)));
      this.slots.push(slot);
    }
  }

  /** the number of workers */
  get size(): number {
    return this.slots.length;
  }

  run(req: WithoutId<CodecRequest>, transfer = false): Promise<Buffer> {
    return this.send(req, transfer).then((r) => r.data);
  }

  /** A request with `into`: resolves with the bytes written there. */
  runInto(req: WithoutId<CodecRequest> & { into: SharedSpan }, transfer = false): Promise<number> {
    return this.send(req, transfer).then((r) => r.length);
  }

  private send(req: WithoutId<CodecRequest>, transfer: boolean): Promise<{ data: Buffer; length: number }> {
    if (this.broken) return Promise.reject(this.broken);
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      const data = req.data;
      // shared memory is never moved: the worker sees the same bytes
      const owned = transfer && !(data.buffer instanceof SharedArrayBuffer) && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      slot.worker.postMessage({ ...req, id }, owned ? [data.buffer as ArrayBuffer] : []);
    });
  }

  private settle(res: CodecResponse): void {
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    p.slot.busy--;
    if (res.ok) p.resolve({ data: Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength), length: res.length });
    else p.reject(new DbkError(res.code, res.message));
  }

  /**
   * One worker died: every worker is stopped before any request is failed, since a failed request
   * gives its shared memory back to be reused, and a worker still busy with it would write there.
   */
  private async failAll(e: Error): Promise<void> {
    if (this.broken) return;
    this.broken = e;
    await this.stopWorkers();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(e);
    }
  }

  async close(): Promise<void> {
    this.broken ??= new Error('the codec pool is closed');
    await this.stopWorkers();
  }

  private stopWorkers(): Promise<unknown> {
    return Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
