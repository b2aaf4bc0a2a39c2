// Restores file content, file after file in stream order. Each file's bytes are spans of chunks
// decoded into the file writer's ring (RestoreChunks), checked against the file's SHA-256 before
// the file is put in place. A file within one or two chunks (a third of the ring at most) is
// checked and then written whole (straight under its name when nothing is there); a longer one is streamed under a
// temporary name as its chunks arrive and renamed only once it is all there and verified.

import { createHash, hash } from 'node:crypto';
import { DbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import type { SafeTree } from '../tree/safe-path.js';
import type { RestoredAttributes } from './attributes.js';
import type { FileWriter, PlacedFile, RingSpan } from './file-writer.js';
import type { RestoreChunks } from './restore-chunks.js';

export class RestoreWriter {
  constructor(
    private readonly tree: SafeTree,
    private readonly writer: FileWriter,
    private readonly chunks: RestoreChunks,
    /** the load (see RestoreChunks) of each chunk of the revision a file reads */
    private readonly loadOf: Int32Array,
    private readonly chunkLengths: readonly number[],
    private readonly attributes: RestoredAttributes,
  ) {}

  /**
   * Hands one file to the writer; `exists` says something is at `target`, its absolute path (to be
   * replaced). Rejects, leaving the old file alone, when a chunk is missing or corrupt or the
   * content does not match its hash; the write itself completes later (FileWriter.drain() reports
   * failures). Returns no promise when it could hand the file over at once: a restore of a million
   * tiny files spent a fifth of its main thread making and collecting promises.
   */
  restore(e: FileEntry, exists: boolean, target: string): Promise<void> | undefined {
    const file: PlacedFile = { ...this.attributes.of(e), target, viaTemp: exists, replaceFolder: this.tree.replace };
    const r = e.range;
    if (r) this.chunks.releaseBelow(this.loadOf[r.startChunk]!);
    if (!this.tree.parentReady(e.path)) return this.tree.prepareParent(e.path).then(() => this.handOver(e, file));
    // in one chunk, decoded already: written whole (a chunk is at most a third of the ring)
    const chunk = r && r.startChunk === r.endChunk ? this.chunks.ready(this.loadOf[r.startChunk]!) : undefined;
    if (!r || !chunk || !e.hash) return this.handOver(e, file);
    const piece: RingSpan = { offset: chunk.offset + r.startOffset, length: r.endOffset - r.startOffset };
    if (!hash('sha256', this.writer.view(piece), 'buffer').equals(e.hash)) return Promise.reject(mismatch(e));
    this.writer.writeWhole(file, [piece]);
  }

  private async handOver(e: FileEntry, file: PlacedFile): Promise<void> {
    const r = e.range;
    if (!r) return this.writer.writeWhole(file, []);
    // written whole: within two chunks that together leave the ring room for the next one
    if (r.endChunk - r.startChunk <= 1 && this.spannedBytes(r.startChunk, r.endChunk) <= this.writer.spanLimit) {
      const content: RingSpan[] = [];
      await this.eachPiece(e, (piece) => content.push(piece), false);
      return this.writer.writeWhole(file, content);
    }
    const id = this.writer.open({ ...file, viaTemp: true });
    try {
      await this.eachPiece(e, (piece) => this.writer.append(id, piece), true);
    } catch (err) {
      this.writer.finish(id, false);
      throw err;
    }
    this.writer.finish(id, true);
  }

  /** Ring bytes of chunks `first` to `last` (at most two). */
  private spannedBytes(first: number, last: number): number {
    return this.chunkLengths[first]! + (last === first ? 0 : this.chunkLengths[last]!);
  }

  /**
   * Every piece of the file, in order; rejects after all of them were waited for if one failed,
   * or when the whole does not match the file's hash. `streaming`: each chunk but the last goes
   * back to the ring once its piece is taken (no other file reads it), so a file longer than the
   * ring passes through it.
   */
  private async eachPiece(e: FileEntry, take: (piece: RingSpan) => void, streaming: boolean): Promise<void> {
    const r = e.range!;
    const sha = createHash('sha256');
    let failure: unknown;
    for (let i = r.startChunk; i <= r.endChunk; i++) {
      const chunk = await this.chunks.get(this.loadOf[i]!).catch((err: unknown) => {
        failure ??= err;
        return undefined;
      });
      if (chunk && !failure) {
        const start = i === r.startChunk ? r.startOffset : 0;
        const end = i === r.endChunk ? r.endOffset : chunk.length;
        const piece: RingSpan = { offset: chunk.offset + start, length: end - start };
        sha.update(this.writer.view(piece));
        take(piece);
      }
      if (streaming && i < r.endChunk) this.chunks.releaseBelow(this.loadOf[i]! + 1);
    }
    if (failure) throw failure;
    if (e.hash && !sha.digest().equals(e.hash)) throw mismatch(e);
  }
}

const mismatch = (e: FileEntry) => new DbkError('CORRUPT', `${e.path}: restored content does not match its hash`);
