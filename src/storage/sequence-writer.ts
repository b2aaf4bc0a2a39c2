// Writes a metadata sequence (a file list, chunk hashes, chunk lengths) as its bytes are made: cut
// into content-defined metadata chunks as they arrive, each stored unless the storage has it, a
// few on their way at once. A file list of millions of entries is never whole in memory.

import pLimit from 'p-limit';
import { Chunker } from '../chunking/fastcdc.js';
import { type ChunkHash, chunkPath } from '../format/ids.js';
import type { Repository } from './repository.js';

export class SequenceWriter {
  private readonly chunker: Chunker;
  private readonly hashes: ChunkHash[] = [];
  private readonly storing = new Set<Promise<void>>();
  private readonly limit: ReturnType<typeof pLimit>;
  private failure: unknown;
  /** bytes written so far */
  bytes = 0;

  constructor(
    private readonly repo: Repository,
    /** hash only: store nothing */
    private readonly dryRun = false,
  ) {
    this.chunker = new Chunker(repo.config.metadataChunkSizes, repo.config.keys.chunkSeed);
    // a few pieces at a time: each on its way is the piece, its encoded copy and its request to the codec worker
    this.limit = pLimit(Math.max(4, repo.threads));
  }

  /** Takes the next bytes; resolves once there is room for more. */
  async write(data: Buffer): Promise<void> {
    this.bytes += data.length;
    for (const piece of this.chunker.push(data)) this.store(piece);
    await this.room();
  }

  /** The sequence's chunk hashes, once every piece is stored. */
  async finish(): Promise<ChunkHash[]> {
    const last = this.chunker.finish();
    if (last) this.store(last);
    while (this.storing.size > 0) await Promise.all(this.storing);
    if (this.failure) throw this.failure;
    return this.hashes;
  }

  private store(piece: Buffer): void {
    const hash = this.repo.hashOf(piece);
    this.hashes.push(hash);
    if (this.dryRun) return;
    const id = this.repo.chunkId(hash);
    const task = this.limit(async () => {
      if (!(await this.repo.backend.stat(chunkPath(id)))) await this.repo.storeChunk(id, await this.repo.encodeChunk(piece, hash));
    }).catch((e: unknown) => {
      this.failure ??= e;
    });
    const tracked = task.finally(() => this.storing.delete(tracked));
    this.storing.add(tracked);
  }

  private async room(): Promise<void> {
    while (this.storing.size > 2 * Math.max(4, this.repo.threads)) await Promise.race(this.storing);
    if (this.failure) throw this.failure;
  }
}
