// Takes the chunks of a backup in order, with their hashes, and sends each chunk the storage does
// not have yet (stored-chunks.ts says which it may have) through the codec pool and up to the
// storage. The codec workers encode straight into a ring of shared memory, and the storage is
// written from there: nothing is allocated per chunk, so memory is the ring, not whatever the
// collectors of three threads have yet to free. A few chunks wait for the codec workers; the ring
// holds those encoded and waiting for the storage, so a storage that is slow per write (a local
// disk syncing every chunk, a remote one with latency) has enough writes under way to hide it.

import { type ChunkHash, type ChunkId, chunkPath } from '../format/ids.js';
import { encodedBound } from '../format/object.js';
import { ContentRing } from '../storage/content-ring.js';
import { ReleaseInOrder } from '../storage/release-in-order.js';
import type { Repository } from '../storage/repository.js';
import type { IncompleteBackup } from './incomplete.js';
import type { StoredChunks } from './stored-chunks.js';

export interface UploadStats {
  chunks: number;
  newChunks: number;
  /** plaintext bytes of new chunks */
  newBytes: number;
  /** bytes sent to the storage (compressed, encrypted) */
  uploadedBytes: number;
  /** chunks new to this snapshot id that the storage held already (found by a stat, not sent) */
  foundChunks: number;
}

/** Chunks being encoded, or stored, at the same time. */
class Stage {
  readonly tasks = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}

  async room(): Promise<void> {
    while (this.tasks.size >= this.limit) await Promise.race(this.tasks);
  }

  track(p: Promise<void>): void {
    const tracked = p.finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }
}

/** A span of the output ring, given back once its object is stored (in any order). */
interface OutputSpan {
  memory: SharedArrayBuffer;
  offset: number;
  length: number;
  release: () => void;
}

/** Encoded chunks waiting for the storage, in a ring whose spans are given back in any order. */
class OutputRing {
  private readonly ring: ContentRing;
  private readonly inOrder = new ReleaseInOrder<number>((cost) => {
    this.ring.free(cost);
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  });
  private waiting: (() => void)[] = [];

  constructor(bytes: number) {
    this.ring = new ContentRing(bytes);
  }

  /** A span of `length` bytes (at most the ring's size), once that much is free. */
  async take(length: number): Promise<OutputSpan> {
    for (;;) {
      const t = this.ring.take(length);
      if (t) return { memory: this.ring.memory, offset: t.offset, length, release: this.inOrder.add(t.cost) };
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
}

export class ChunkUploader {
  readonly stats: UploadStats = { chunks: 0, newChunks: 0, newBytes: 0, uploadedBytes: 0, foundChunks: 0 };
  /** stats of chunks the storage may hold already */
  private readonly asking: Stage;
  private readonly encoding: Stage;
  private readonly storing: Stage;
  private readonly output: OutputRing;
  private readonly encrypted: boolean;
  private readonly seen = new Set<ChunkId>();
  private failure: unknown;

  constructor(
    private readonly repo: Repository,
    private readonly stored: StoredChunks,
    private readonly incomplete: IncompleteBackup | undefined,
    private readonly dryRun: boolean,
  ) {
    this.encrypted = repo.config.keys.encryptionKey !== undefined;
    this.asking = new Stage(Math.max(16, repo.smallCalls));
    this.encoding = new Stage(repo.codec.size * 2);
    this.storing = new Stage(Math.max(16, repo.threads * 2));
    // a largest chunk fits, once the ring has drained if it must wrap
    this.output = new OutputRing(Math.max(24 << 20, encodedBound(repo.config.chunkSizes.maximum, this.encrypted)));
  }

  /**
   * Accepts the next chunk; resolves once its upload (if any) is under way. `release` is called
   * once the chunk's bytes are no longer needed (they are encoded, or need not be stored).
   */
  async add(chunk: Uint8Array, hash: ChunkHash, release: () => void = () => {}): Promise<ChunkHash> {
    this.throwFailure();
    const id = this.repo.chunkId(hash);
    this.stats.chunks++;
    if (this.stored.isReferenced(id) || this.seen.has(id)) {
      release();
      return hash;
    }
    this.seen.add(id);
    if (!this.stored.worthAsking(id)) {
      await this.send(chunk, hash, id, release);
      return hash;
    }
    // the stats run side by side, each sending its chunk if the storage lacks it
    try {
      await this.asking.room();
    } catch (e) {
      release();
      throw e;
    }
    const asked = this.isStored(id).then(
      (found) => (found ? release() : this.send(chunk, hash, id, release)), // send releases on failure
      (e: unknown) => {
        release();
        throw e;
      },
    );
    this.asking.track(asked.catch(this.fail));
    return hash;
  }

  private async isStored(id: ChunkId): Promise<boolean> {
    const st = await this.repo.backend.stat(chunkPath(id));
    if (st && !st.dir) this.stats.foundChunks++;
    return st !== undefined && !st.dir;
  }

  private readonly fail = (e: unknown) => {
    this.failure ??= e;
  };

  /** Encodes a chunk and stores it; resolves once that is under way. */
  private async send(chunk: Uint8Array, hash: ChunkHash, id: ChunkId, release: () => void): Promise<void> {
    try {
      await this.encoding.room();
      await this.storing.room();
      this.throwFailure();
    } catch (e) {
      release();
      throw e;
    }
    const encoded = this.encode(chunk, hash);
    encoded.then(release, release);
    this.encoding.track(encoded.then(() => {}, this.fail));
    this.storing.track(encoded.then((out) => out && this.store(id, out)).catch(this.fail));
  }

  /** The chunk encoded in the output ring, or undefined on a dry run. */
  private async encode(chunk: Uint8Array, hash: ChunkHash): Promise<{ span: OutputSpan; length: number } | undefined> {
    const length = chunk.length;
    this.stats.newChunks++;
    this.stats.newBytes += length;
    if (this.dryRun) return undefined;
    const span = await this.output.take(encodedBound(length, this.encrypted));
    try {
      return { span, length: await this.repo.encodeChunkInto(chunk, hash, { memory: span.memory, offset: span.offset, length: span.length }) };
    } catch (e) {
      span.release();
      throw e;
    }
  }

  private async store(id: ChunkId, out: { span: OutputSpan; length: number }): Promise<void> {
    try {
      if (await this.repo.storeChunk(id, Buffer.from(out.span.memory, out.span.offset, out.length))) this.stats.uploadedBytes += out.length;
    } finally {
      out.span.release();
    }
    this.incomplete?.add(id);
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  /** Waits for every stat and upload; throws the first failure. */
  async drain(): Promise<void> {
    while (this.asking.tasks.size > 0) await Promise.all(this.asking.tasks);
    while (this.storing.tasks.size > 0) await Promise.all(this.storing.tasks);
    this.throwFailure();
  }
}
