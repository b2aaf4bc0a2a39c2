// check -chunks: download every referenced chunk once, decode it and compare it with its hash.
// Chunks verified before (remembered in the cache) are skipped, so a later run only verifies what
// is new. Only a revision's metadata knows a chunk's hash, so revisions are read newest first
// (new chunks are there) until every chunk still to verify has been met.

import pLimit from 'p-limit';
import type { CachedRevision } from '../../cache/revision-cache.js';
import type { CacheSession } from '../catalog/cache-access.js';
import { revisionHashBytes } from '../catalog/chunk-numbering.js';
import { isDbkError } from '../errors.js';
import type { RevisionRef } from '../format/fossil-collection.js';
import { type ChunkHash, type ChunkId, HASH_BYTES } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';
import type { ChunkFinding } from './chunk-problems.js';

export interface RevisionFinding extends RevisionRef {
  kind: 'revision';
  severity: 'error';
  detail: string;
}

export interface ChunkVerification {
  /** chunks downloaded and verified in this run */
  verified: number;
  /** chunks skipped because an earlier run verified them */
  alreadyVerified: number;
  chunkFindings: Map<number, ChunkFinding>;
  revisionFindings: RevisionFinding[];
}

export interface VerifyOptions {
  persist: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function verifyChunks(
  repo: Repository,
  session: CacheSession,
  revisions: readonly CachedRevision[],
  referenced: Uint8Array,
  /** chunks already known to be missing: not downloaded again */
  known: ReadonlyMap<number, unknown>,
  o: VerifyOptions,
): Promise<ChunkVerification> {
  const done = session.cache.verified();
  const out: ChunkVerification = { verified: 0, alreadyVerified: 0, chunkFindings: new Map(), revisionFindings: [] };
  let todo = 0;
  for (let n = 0; n < referenced.length; n++) {
    if (!referenced[n] || known.has(n)) continue;
    if (done[n]) out.alreadyVerified++;
    else todo++;
  }
  const total = todo;
  const taken = new Uint8Array(referenced.length);
  const limit = pLimit(repo.threads);
  const newestFirst = [...revisions].sort((a, b) => b.endTime - a.endTime);
  for (const rev of newestFirst) {
    if (todo === 0 || (!o.persist && out.chunkFindings.size > 0)) break;
    o.signal?.throwIfAborted();
    let hashes: Buffer;
    try {
      hashes = await revisionHashBytes(repo, await repo.loadRevision(rev.snapshotId, rev.revision));
    } catch (e) {
      if (!isDbkError(e, 'MISSING_CHUNKS') && !isDbkError(e, 'CORRUPT')) throw e;
      out.revisionFindings.push({ kind: 'revision', severity: 'error', snapshotId: rev.snapshotId, revision: rev.revision, detail: (e as Error).message });
      continue;
    }
    const numbers = session.numbering().numbersOf(hashes);
    const jobs: { n: number; hash: ChunkHash }[] = [];
    numbers.forEach((n, i) => {
      if (n >= referenced.length || !referenced[n] || done[n] || taken[n] || known.has(n)) return;
      taken[n] = 1;
      jobs.push({ n, hash: hashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES) as ChunkHash });
    });
    todo -= jobs.length;
    const good: number[] = [];
    await Promise.all(jobs.map((j) => limit(() => verifyOne(repo, j, good, out))));
    session.cache.markVerified(good);
    out.verified += good.length;
    o.onProgress?.(total - todo, total);
  }
  return out;
}

async function verifyOne(repo: Repository, job: { n: number; hash: ChunkHash }, good: number[], out: ChunkVerification): Promise<void> {
  try {
    await repo.readChunk(job.hash);
    good.push(job.n);
  } catch (e) {
    const missing = isDbkError(e, 'MISSING_CHUNKS');
    if (!missing && !isDbkError(e, 'CORRUPT')) throw e;
    out.chunkFindings.set(job.n, {
      kind: 'chunk',
      severity: 'error',
      chunkId: repo.chunkId(job.hash) as ChunkId,
      problem: missing ? 'missing' : 'corrupt',
      detail: (e as Error).message,
      resurrected: false,
      revisions: [],
      files: [],
    });
  }
}
