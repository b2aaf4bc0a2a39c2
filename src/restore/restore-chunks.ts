// The chunks a restore reads, in the order its files need them, decoded straight into the file
// writer's ring: a window of them is downloaded and decoded ahead, as far as the ring has room.
// Files are restored in stream order, so their chunks are a sequence of loads in which each load
// is needed by a run of consecutive files; once every job reading a load is handed over, its
// span goes back to the ring. A chunk that recurs far apart in a revision is simply loaded again.

import type { FileEntry } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';
import type { FileWriter, Reserved, RingSpan } from './file-writer.js';

export interface ChunkLoad {
  hash: ChunkHash;
  length: number;
}

/**
 * The loads of files with content, in stream order (sorted by where their range starts): each
 * run of a chunk index that consecutive files read is one load; `loadOf` gives each chunk index
 * its load (-1 for chunks no file reads).
 */
export function planChunkLoads(files: readonly FileEntry[], hashes: readonly ChunkHash[], lengths: readonly number[]): { loads: ChunkLoad[]; loadOf: Int32Array } {
  const loads: ChunkLoad[] = [];
  const loadOf = new Int32Array(hashes.length).fill(-1);
  for (const e of files) {
    for (let i = e.range!.startChunk; i <= e.range!.endChunk; i++) {
      if (loadOf[i] !== -1) continue;
      loadOf[i] = loads.length;
      loads.push({ hash: hashes[i]!, length: lengths[i]! });
    }
  }
  return { loads, loadOf };
}

export class RestoreChunks {
  private readonly loading = new Map<number, { span: Reserved; done: Promise<void>; decoded: boolean }>();
  private started = 0;
  private released = 0;
  /** get() is waiting for room for the next load: fill() must not start it meanwhile */
  private reserving = false;

  constructor(
    private readonly repo: Repository,
    private readonly writer: FileWriter,
    private readonly loads: readonly ChunkLoad[],
    /** loads under way or waiting to be released, at most */
    private readonly window: number,
  ) {
    writer.onFreed = () => this.fill();
  }

  /** Load k's span once the chunk is decoded there; rejects when it is missing or corrupt. */
  async get(k: number): Promise<RingSpan> {
    this.fill();
    while (this.started <= k) {
      this.reserving = true;
      try {
        this.start(await this.writer.reserve(this.loads[this.started]!.length));
      } finally {
        this.reserving = false;
      }
    }
    const load = this.loading.get(k);
    if (!load) throw new Error(`chunk load ${k} was released before it was read`);
    await load.done;
    return load.span;
  }

  /** Load k's span if the chunk is decoded there already (get() without waiting), else undefined. */
  ready(k: number): RingSpan | undefined {
    const load = this.loading.get(k);
    return load?.decoded ? load.span : undefined;
  }

  /** Every job reading the loads below `k` is handed over: their spans go back to the ring. */
  releaseBelow(k: number): void {
    for (const end = Math.min(k, this.started); this.released < end; this.released++) {
      this.writer.release(this.loading.get(this.released)!.span);
      this.loading.delete(this.released);
    }
    this.fill();
  }

  private fill(): void {
    while (!this.reserving && this.started < this.loads.length && this.started - this.released < this.window) {
      const span = this.writer.tryReserve(this.loads[this.started]!.length);
      if (!span) return;
      this.start(span);
    }
  }

  private start(span: Reserved): void {
    const { hash } = this.loads[this.started]!;
    const load = { span, done: this.repo.readChunkInto(hash, { memory: this.writer.memory, offset: span.offset, length: span.length }), decoded: false };
    load.done.then(
      () => void (load.decoded = true),
      () => {}, // surfaced by get()
    );
    this.loading.set(this.started++, load);
  }
}
