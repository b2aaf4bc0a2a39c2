// Writes restored files. Content arrives in chunk order through the prefetcher and is verified
// against the file's SHA-256 before the file is put in place (temp name, then rename). Small
// files are gathered in memory and written by a pool of parallel writers, so restoring 100,000
// small files is not 600,000 serial system calls; large files are streamed as they arrive.

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import type { ChunkPrefetcher } from './chunk-prefetcher.js';
import type { SafeTree } from './safe-path.js';

const SMALL = 8 << 20;
const MAX_WRITES = 32;
const MAX_BUFFERED = 96 << 20;

export class RestoreWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private buffered = 0;
  private failure: unknown;

  constructor(
    private readonly tree: SafeTree,
    private readonly hashes: readonly ChunkHash[],
    private readonly prefetch: ChunkPrefetcher,
  ) {}

  /**
   * Restores one file. Rejects (and leaves the old file alone) when a chunk is missing or corrupt
   * or the content does not match its hash; the write itself may complete after this resolves.
   */
  async restore(e: FileEntry): Promise<void> {
    if (this.failure) throw this.failure;
    await this.tree.prepareParent(e.path);
    if (e.size > SMALL) return this.stream(e);
    const pieces = await this.gather(e);
    while (this.inFlight.size >= MAX_WRITES || (this.buffered > MAX_BUFFERED && this.inFlight.size > 0)) await Promise.race(this.inFlight);
    this.buffered += e.size;
    const task = this.place(e, pieces)
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.buffered -= e.size;
        this.inFlight.delete(task);
      });
    this.inFlight.add(task);
  }

  /** Waits for every write; throws the first write failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
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

  private async gather(e: FileEntry): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const piece of this.pieces(e)) out.push(piece);
    return out;
  }

  private async place(e: FileEntry, pieces: Buffer[]): Promise<void> {
    const tmp = this.tempFor(e);
    await fs.writeFile(tmp, pieces, { mode: 0o600, flag: 'wx' });
    await this.finish(tmp, e);
  }

  private async stream(e: FileEntry): Promise<void> {
    const tmp = this.tempFor(e);
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      for await (const piece of this.pieces(e)) await fh.write(piece);
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await this.finish(tmp, e);
  }

  /**
   * A short random name beside the target: appending to the name would overflow a 255-byte name,
   * and 'wx' never opens (and writes through) a symlink planted under a predictable name.
   */
  private tempFor(e: FileEntry): string {
    return path.join(path.dirname(this.tree.abs(e.path)), `.dbk-restore-${randomBytes(8).toString('hex')}`);
  }

  private async finish(tmp: string, e: FileEntry): Promise<void> {
    await setAttributes(tmp, e);
    const target = this.tree.abs(e.path);
    // the revision has a file where a folder is now: rename cannot replace a folder
    if (this.tree.replace && (await fs.lstat(target).catch(() => undefined))?.isDirectory()) await fs.rm(target, { recursive: true });
    await fs.rename(tmp, target);
  }
}

export async function setAttributes(abs: string, e: FileEntry): Promise<void> {
  if (process.getuid?.() === 0) await fs.lchown(abs, e.uid, e.gid).catch(() => {});
  await fs.chmod(abs, e.mode);
  await fs.utimes(abs, e.mtimeMs / 1000, e.mtimeMs / 1000);
}
