// Restores file content. Content arrives in chunk order through the prefetcher and is verified
// against the file's SHA-256: a small file before anything of it is written, a large one (streamed
// as its chunks arrive) before it is put in place. The file writer thread does the writing.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { DbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import type { ChunkPrefetcher } from './chunk-prefetcher.js';
import { type FileWriter, type PlacedFile, SPAN_MAX } from './file-writer.js';
import type { SafeTree } from './safe-path.js';

/** files up to this size are gathered and verified whole before they are written */
const SMALL = SPAN_MAX;

export class RestoreWriter {
  constructor(
    private readonly tree: SafeTree,
    private readonly hashes: readonly ChunkHash[],
    private readonly prefetch: ChunkPrefetcher,
    private readonly writer: FileWriter,
  ) {}

  /**
   * Restores one file; `exists` says something is at its path (to be replaced). Rejects, and
   * leaves the old file alone, when a chunk is missing or corrupt or the content does not match
   * its hash; the write itself completes later (FileWriter.drain() reports its failures).
   */
  async restore(e: FileEntry, exists: boolean): Promise<void> {
    await this.tree.prepareParent(e.path);
    const large = e.size > SMALL;
    const file: PlacedFile = {
      target: this.tree.abs(e.path),
      viaTemp: exists || large,
      replaceFolder: this.tree.replace,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtimeMs: e.mtimeMs,
    };
    if (!large) {
      const pieces: Buffer[] = [];
      for await (const piece of this.pieces(e)) pieces.push(piece);
      return this.writer.writeWhole(file, pieces);
    }
    const id = this.writer.open(file);
    try {
      for await (const piece of this.pieces(e)) await this.writer.append(id, piece);
    } catch (err) {
      this.writer.finish(id, false);
      throw err;
    }
    this.writer.finish(id, true);
  }

  /** Every piece of a file's content, in order, each verified chunk by chunk and the whole by hash. */
  private async *pieces(e: FileEntry): AsyncGenerator<Buffer> {
    const r = e.range;
    if (!r) return;
    let failure: unknown;
    const sha = createHash('sha256');
    for (let i = r.startChunk; i <= r.endChunk; i++) {
      let chunk: Buffer;
      try {
        chunk = await this.prefetch.get(this.hashes[i]!);
      } catch (err) {
        failure ??= err; // keep consuming the file's chunks so the prefetch order stays in step
        continue;
      }
      if (failure) continue;
      const piece = chunk.subarray(i === r.startChunk ? r.startOffset : 0, i === r.endChunk ? r.endOffset : chunk.length);
      sha.update(piece);
      yield piece;
    }
    if (failure) throw failure;
    if (e.hash && !sha.digest().equals(e.hash)) throw new DbkError('CORRUPT', `${e.path}: restored content does not match its hash`);
  }
}

export async function setAttributes(abs: string, e: FileEntry): Promise<void> {
  if (process.getuid?.() === 0) await fs.lchown(abs, e.uid, e.gid).catch(() => {});
  await fs.chmod(abs, e.mode);
  await fs.utimes(abs, e.mtimeMs / 1000, e.mtimeMs / 1000);
}
