// Builds the chunk sequence of a new revision. Unchanged files keep the chunks they had in the
// previous revision; changed files are read as one stream and cut anew. The final sequence is
// the reused chunks (in order of first use) followed by the stream's chunks, and each file's
// range is resolved against it once the stream has ended and every cut is known. A chunk may
// appear in the sequence more than once; it is stored once all the same.

import type { ChunkRange } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';

export class ChunkSequenceBuilder {
  private readonly reusedHashes: ChunkHash[] = [];
  private readonly reusedLengths: number[] = [];
  /** previous-revision index of the last reused chunk, so adjacent files share their boundary chunk */
  private lastReused = -1;
  private readonly streamHashes: ChunkHash[] = [];
  private readonly streamLengths: number[] = [];
  /** stream offset at which each stream chunk ends (exclusive) */
  private readonly streamEnds: number[] = [];
  private streamBytes = 0;

  constructor(
    private readonly previousHashes: readonly ChunkHash[] = [],
    private readonly previousLengths: readonly number[] = [],
  ) {}

  /**
   * Keeps an unchanged file's chunks and returns its range in the new sequence (final at once:
   * reused chunks come first). Appends the range's chunks, sharing the first one with the file
   * before when that file ended in it; otherwise a chunk may appear twice, which costs nothing.
   */
  reuse(range: ChunkRange): ChunkRange {
    const shared = range.startChunk === this.lastReused;
    const startChunk = shared ? this.reusedHashes.length - 1 : this.reusedHashes.length;
    for (let i = shared ? range.startChunk + 1 : range.startChunk; i <= range.endChunk; i++) {
      this.reusedHashes.push(this.previousHashes[i]!);
      this.reusedLengths.push(this.previousLengths[i]!);
    }
    this.lastReused = range.endChunk;
    return { startChunk, startOffset: range.startOffset, endChunk: this.reusedHashes.length - 1, endOffset: range.endOffset };
  }

  addStreamChunk(hash: ChunkHash, length: number): void {
    this.streamHashes.push(hash);
    this.streamLengths.push(length);
    this.streamBytes += length;
    this.streamEnds.push(this.streamBytes);
  }

  /** The final range of stream bytes [start, end), valid once the stream is complete. */
  resolveStream(start: number, end: number): ChunkRange {
    const base = this.reusedHashes.length;
    const s = this.chunkAt(start);
    const e = this.chunkAt(end - 1);
    const chunkStart = (i: number) => (i === 0 ? 0 : this.streamEnds[i - 1]!);
    return { startChunk: base + s, startOffset: start - chunkStart(s), endChunk: base + e, endOffset: end - chunkStart(e) };
  }

  /** index of the stream chunk holding byte `offset` */
  private chunkAt(offset: number): number {
    let lo = 0;
    let hi = this.streamEnds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.streamEnds[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  get hashes(): ChunkHash[] {
    return [...this.reusedHashes, ...this.streamHashes];
  }

  get lengths(): number[] {
    return [...this.reusedLengths, ...this.streamLengths];
  }
}
