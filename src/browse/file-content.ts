// A file of a revision read as a stream of pieces, whole or a byte range of it, straight from its
// chunks: a range fetches only the chunks it touches. Every chunk is verified as it is decoded (its
// name is its keyed hash); a whole file is also held to its SHA-256, and a mismatch ends the stream
// with an error after the last piece, so a server can cut the download short instead of finishing it.
// Decoded chunks are shared between readers through a small cache bounded in bytes, so a client
// reading a file in many small ranges (as WebDAV clients do) decodes each chunk once.

import { createHash } from 'node:crypto';
import { DbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import { type ChunkHash, HASH_BYTES } from '../format/ids.js';
import type { Revision } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';

const DEFAULT_CACHE_BYTES = 64 << 20;

/** Decoded chunks by hash, the least recently used dropped first; a chunk being read is read once. */
export class ChunkCache {
  private readonly chunks = new Map<string, Promise<Buffer>>();
  /** the length of each chunk that has arrived; one still being read is not counted yet */
  private readonly lengths = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly maxBytes = DEFAULT_CACHE_BYTES) {}

  get(repo: Repository, hash: ChunkHash): Promise<Buffer> {
    const key = `${repo.cacheDir}\n${hash}`;
    let chunk = this.chunks.get(key);
    if (chunk) {
      this.chunks.delete(key);
      this.chunks.set(key, chunk);
      return chunk;
    }
    chunk = repo.readChunk(hash);
    this.chunks.set(key, chunk);
    chunk.then(
      (b) => this.arrived(key, chunk!, b.length),
      () => this.chunks.get(key) === chunk && this.chunks.delete(key),
    );
    return chunk;
  }

  private arrived(key: string, chunk: Promise<Buffer>, length: number): void {
    if (this.chunks.get(key) !== chunk) return; // dropped while it was read
    this.lengths.set(key, length);
    this.bytes += length;
    for (const k of this.chunks.keys()) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.chunks.delete(k);
      this.bytes -= this.lengths.get(k) ?? 0;
      this.lengths.delete(k);
    }
  }
}

/** The chunk hashes and lengths of one revision: what a byte range of any of its files needs. */
export class RevisionContent {
  private constructor(
    private readonly repo: Repository,
    private readonly revision: Revision,
    private readonly hashes: Buffer,
    private readonly lengths: number[],
    private readonly cache: ChunkCache,
  ) {}

  static async open(repo: Repository, r: Revision, cache: ChunkCache): Promise<RevisionContent> {
    const [hashes, lengths] = await Promise.all([repo.readChunkHashBytes(r), repo.readChunkLengths(r)]);
    return new RevisionContent(repo, r, hashes, lengths, cache);
  }

  /** Bytes [start, end) of a file (all of it by default), verified. */
  async *read(e: FileEntry, start = 0, end = e.size): AsyncGenerator<Buffer> {
    if (e.type !== 'file') throw new DbkError('USAGE', `${e.path} is not a file`);
    if (!(start >= 0 && start <= end && end <= e.size)) throw new DbkError('USAGE', `bytes ${start}–${end} lie outside ${e.path} (${e.size} bytes)`);
    const range = e.range;
    if (!range || start === end) return;
    const whole = start === 0 && end === e.size ? createHash('sha256') : undefined;
    let at = 0; // the file's offset of the current chunk's first byte of it
    let given = 0;
    for (let i = range.startChunk; i <= range.endChunk && at < end; i++) {
      const from = i === range.startChunk ? range.startOffset : 0;
      const to = i === range.endChunk ? range.endOffset : this.lengths[i];
      if (to === undefined || to < from) throw this.damaged(e, i);
      const length = to - from;
      if (at + length > start) {
        const chunk = await this.cache.get(this.repo, this.hashAt(i));
        if (chunk.length < to) throw this.damaged(e, i);
        const piece = chunk.subarray(from + Math.max(0, start - at), from + Math.min(length, end - at));
        whole?.update(piece);
        given += piece.length;
        yield piece;
      }
      at += length;
    }
    if (given !== end - start) throw new DbkError('CORRUPT', `${e.path}: its chunks hold ${given} of the ${end - start} bytes asked for`);
    if (whole && e.hash && !whole.digest().equals(e.hash)) throw new DbkError('CORRUPT', `${e.path}: content does not match its hash`);
  }

  private hashAt(i: number): ChunkHash {
    if (i >= this.lengths.length) throw new DbkError('CORRUPT', `chunk ${i} is beyond the ${this.lengths.length} of revision ${this.revision.revision}`);
    return this.hashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES) as ChunkHash;
  }

  private damaged(e: FileEntry, i: number): DbkError {
    return new DbkError('CORRUPT', `${e.path}: its range does not fit chunk ${i} of revision ${this.revision.revision}`);
  }
}
