// Takes the chunks of a backup in order, with their hashes, and sends each chunk the
// storage does not have yet through the codec pool and up to the storage, with a bounded number
// in flight so memory stays flat however large the backup.

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

export class ChunkUploader {
  readonly stats: UploadStats = { chunks: 0, newChunks: 0, newBytes: 0, uploadedBytes: 0 };
  private readonly inFlight = new Set<Promise<void>>();
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
    private readonly maxInFlight = Math.max(2, repo.threads * 2),
  ) {}

  /** Accepts the next chunk; resolves once its upload (if any) is under way. */
  async add(chunk: Buffer, hash: ChunkHash): Promise<ChunkHash> {
    if (this.failure) throw this.failure;
    const id = this.repo.chunkId(hash);
    this.stats.chunks++;
    if (this.known.has(id) || this.seen.has(id)) return hash;
    this.seen.add(id);
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const task = this.upload(chunk, hash, id).catch((e) => {
      this.failure ??= e;
    });
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return hash;
  }

  private async upload(chunk: Buffer, hash: ChunkHash, id: ChunkId): Promise<void> {
    const length = chunk.length;
    if (this.maybe.has(id) && (await this.repo.backend.stat(chunkPath(id)))) return;
    this.stats.newChunks++;
    this.stats.newBytes += length;
    if (this.dryRun) return;
    const encoded = await this.repo.encodeChunk(chunk, hash);
    if (await this.repo.storeChunk(id, encoded)) this.stats.uploadedBytes += encoded.length;
    this.incomplete?.add(id);
  }

  /** Waits for every upload; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }
}
