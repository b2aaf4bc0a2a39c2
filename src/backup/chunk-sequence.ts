// Builds the chunk sequence of a new revision in file-list order, as entries are written:
// an unchanged file appends the chunks it had in the previous revision, a file read appends the
// chunks of the stream that hold its bytes. Consecutive files that end and start in the same
// chunk share it; otherwise a chunk may appear in the sequence more than once (a stream chunk
// split by unchanged files between two files read, say), which costs nothing: it is stored once.
// Every range is final when it is made, so an entry can be written at once.

import type { ChunkRange } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';

/** A chunk of the previous revision (by its index there) or of the stream (by its number in it). */
type Source = 'previous' | 'stream';

export class ChunkSequenceBuilder {
  readonly hashes: ChunkHash[] = [];
  readonly lengths: number[] = [];
  /** where the last chunk appended came from, so that the next file may share it */
  private lastSource: Source | undefined;
  private lastIndex = -1;
  private readonly streamHashes: ChunkHash[] = [];
  private readonly streamLengths: number[] = [];
  /** stream offset at which each stream chunk ends (exclusive) */
  private readonly streamEnds: number[] = [];
  private streamBytes = 0;

  constructor(
    private readonly previousHashes: readonly ChunkHash[] = [],
    private readonly previousLengths: readonly number[] = [],
  ) {}

  /** Keeps an unchanged file's chunks: its range in the new sequence. */
  reuse(range: ChunkRange): ChunkRange {
    const { startChunk, endChunk } = this.append('previous', range.startChunk, range.endChunk, (i) => [this.previousHashes[i]!, this.previousLengths[i]!]);
    return { startChunk, startOffset: range.startOffset, endChunk, endOffset: range.endOffset };
  }

  addStreamChunk(hash: ChunkHash, length: number): void {
    this.streamHashes.push(hash);
    this.streamLengths.push(length);
    this.streamBytes += length;
    this.streamEnds.push(this.streamBytes);
  }

  /** A file read: stream bytes [start, end), every chunk of which has been added. */
  addStreamRange(start: number, end: number): ChunkRange {
    const s = this.chunkAt(start);
    const e = this.chunkAt(end - 1);
    const chunkStart = (i: number) => (i === 0 ? 0 : this.streamEnds[i - 1]!);
    const { startChunk, endChunk } = this.append('stream', s, e, (i) => [this.streamHashes[i]!, this.streamLengths[i]!]);
    return { startChunk, startOffset: start - chunkStart(s), endChunk, endOffset: end - chunkStart(e) };
  }

  /** Appends chunks first…last of a source, sharing the first with the sequence's last when they are the same. */
  private append(source: Source, first: number, last: number, chunk: (i: number) => [ChunkHash, number]): { startChunk: number; endChunk: number } {
    const shared = this.lastSource === source && this.lastIndex === first;
    const startChunk = shared ? this.hashes.length - 1 : this.hashes.length;
    for (let i = shared ? first + 1 : first; i <= last; i++) {
      const [hash, length] = chunk(i);
      this.hashes.push(hash);
      this.lengths.push(length);
    }
    this.lastSource = source;
    this.lastIndex = last;
    return { startChunk, endChunk: this.hashes.length - 1 };
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
}
