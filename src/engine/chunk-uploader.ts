// Takes the chunks of a backup in order, with their hashes, and sends each chunk the storage does
// not have yet through the codec pool and up to the storage. Encoding and storing are bounded
// apart: a few chunks wait for the codec workers (plain chunks are the big ones), and more,
// already compressed, wait for the storage, so a storage that is slow per write (a local disk
// syncing every chunk, a remote one with latency) has enough writes under way to hide it.

import { chunkPath, type ChunkHash, type ChunkId } from '../format/ids.js';
import type { IncompleteBackup } from './incomplete.js';
import type { Repository } from './repository.js';

export interface UploadStats {
  chunks: number;
  newChunks: number;
  /** plaintext bytes of new chunks */
  newBytes: number;
  /** bytes sent to the storage (compressed, encrypted) */
  uploadedBytes: number;
}

/** Chunks encoded, or stored, at the same time: a bounded set of tasks, and of their plain bytes. */
class Stage {
  readonly tasks = new Set<Promise<void>>();
  private bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly byteLimit = Infinity,
  ) {}

  async room(bytes: number): Promise<void> {
    while (this.tasks.size >= this.limit || (this.tasks.size > 0 && this.bytes + bytes > this.byteLimit)) await Promise.race(this.tasks);
  }

  track(p: Promise<void>, bytes: number): void {
    this.bytes += bytes;
    const tracked = p.finally(() => {
      this.bytes -= bytes;
      this.tasks.delete(tracked);
    });
    this.tasks.add(tracked);
  }
}

/** plain bytes of the chunks between the reader and the storage: the bulk of a backup's memory */
const STORING_BYTES = 32 << 20;

export class ChunkUploader {
  readonly stats: UploadStats = { chunks: 0, newChunks: 0, newBytes: 0, uploadedBytes: 0 };
  private readonly encoding: Stage;
  private readonly storing: Stage;
  private readonly seen = new Set<ChunkId>();
  private failure: unknown;

  constructor(
    private readonly repo: Repository,
    /** chunks known to be on the storage (referenced by the previous revision) */
    private readonly known: ReadonlySet<ChunkId>,
    /** chunks an interrupted run uploaded: trusted after a stat */
    private readonly maybe: ReadonlySet<ChunkId>,
    private readonly incomplete: IncompleteBackup | undefined,
    private readonly dryRun: boolean,
  ) {
    this.encoding = new Stage(repo.codec.size * 2);
    this.storing = new Stage(Math.max(16, repo.threads * 2), STORING_BYTES);
  }

  /**
   * Accepts the next chunk; resolves once its upload (if any) is under way. `release` is called
   * once the chunk's bytes are no longer needed (they are encoded, or need not be stored).
   */
  async add(chunk: Buffer, hash: ChunkHash, release: () => void = () => {}): Promise<ChunkHash> {
    this.throwFailure();
    const id = this.repo.chunkId(hash);
    this.stats.chunks++;
    if (this.known.has(id) || this.seen.has(id)) {
      release();
      return hash;
    }
    this.seen.add(id);
    const length = chunk.length;
    try {
      await this.encoding.room(length);
      await this.storing.room(length);
      this.throwFailure();
    } catch (e) {
      release();
      throw e;
    }
    const fail = (e: unknown) => {
      this.failure ??= e;
    };
    const encoded = this.encode(chunk, hash, id);
    encoded.then(release, release);
    this.encoding.track(encoded.then(() => {}, fail), length);
    this.storing.track(encoded.then((data) => data && this.store(id, data)).catch(fail), length);
    return hash;
  }

  /** The chunk encoded for the storage, or undefined when it need not be stored. */
  private async encode(chunk: Buffer, hash: ChunkHash, id: ChunkId): Promise<Buffer | undefined> {
    const length = chunk.length;
    if (this.maybe.has(id) && (await this.repo.backend.stat(chunkPath(id)))) return undefined;
    this.stats.newChunks++;
    this.stats.newBytes += length;
    if (this.dryRun) return undefined;
    return this.repo.encodeChunk(chunk, hash);
  }

  private async store(id: ChunkId, encoded: Buffer): Promise<void> {
    if (await this.repo.storeChunk(id, encoded)) this.stats.uploadedBytes += encoded.length;
    this.incomplete?.add(id);
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  /** Waits for every upload; throws the first failure. */
  async drain(): Promise<void> {
    while (this.storing.tasks.size > 0) await Promise.all(this.storing.tasks);
    this.throwFailure();
  }
}
