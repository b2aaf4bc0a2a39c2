// dbk cat -r N PATH: one file's content from a revision, verified, as a stream of pieces.

import { createHash } from 'node:crypto';
import { DbkError } from '../errors.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface CatOptions extends OpenOptions {
  revision: number;
  path: string;
  snapshotId?: string;
}

export async function* cat(o: CatOptions): AsyncGenerator<Buffer> {
  const repo = await Repository.open(o);
  try {
    const r = await repo.loadRevision(o.snapshotId ?? repo.snapshotId, o.revision);
    const entry = await repo.findEntry(r, o.path);
    if (entry?.type !== 'file') throw new DbkError('NOT_FOUND', `revision ${o.revision} has no file ${o.path}`);
    const range = entry.range;
    if (!range) return;
    const hashes = await repo.readChunkHashes(r);
    const sha = createHash('sha256');
    for (let i = range.startChunk; i <= range.endChunk; i++) {
      const chunk = await repo.readChunk(hashes[i]!);
      const piece = chunk.subarray(i === range.startChunk ? range.startOffset : 0, i === range.endChunk ? range.endOffset : chunk.length);
      sha.update(piece);
      yield piece;
    }
    if (entry.hash && !sha.digest().equals(entry.hash)) throw new DbkError('CORRUPT', `${o.path}: content does not match its hash`);
  } finally {
    await repo.close();
  }
}
