// check -files: rebuild every file of the chosen revisions from its chunks and compare the
// SHA-256 of the result with the one the file list recorded. A file whose content and chunks are
// the same as one already verified in this run (the usual case across revisions) is not read again.

import { createHash } from 'node:crypto';
import { IdTable } from '../../cache/id-table.js';
import { isDbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import type { RevisionRef } from '../format/fossil-collection.js';
import type { ChunkHash } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';
import { ChunkPrefetcher } from './chunk-prefetcher.js';

export interface FileFinding extends RevisionRef {
  kind: 'file';
  severity: 'error';
  path: string;
  detail: string;
}

export interface FileVerification {
  /** files whose content was rebuilt and matched (or matched a file verified earlier in the run) */
  verified: number;
  findings: FileFinding[];
}

export interface FileVerifyOptions {
  persist: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function verifyFiles(repo: Repository, revisions: readonly RevisionRef[], o: FileVerifyOptions): Promise<FileVerification> {
  const out: FileVerification = { verified: 0, findings: [] };
  // what was verified, by a digest of each file's content and chunks: 32 bytes a file in a flat table
  const seen = new IdTable();
  for (const [i, ref] of revisions.entries()) {
    if (!o.persist && out.findings.length > 0) break;
    await verifyRevision(repo, ref, seen, out, o);
    o.onProgress?.(i + 1, revisions.length);
  }
  return out;
}

/** Files taken from the list at a time: their chunks are fetched in order, a few ahead. */
const BATCH = 8192;

async function verifyRevision(repo: Repository, ref: RevisionRef, seen: IdTable, out: FileVerification, o: FileVerifyOptions): Promise<void> {
  const fail = (path: string, detail: string) => out.findings.push({ kind: 'file', severity: 'error', ...ref, path, detail });
  try {
    const r = await repo.loadRevision(ref.snapshotId, ref.revision);
    const hashes = await repo.readChunkHashes(r);
    let batch: FileEntry[] = [];
    for await (const e of repo.fileListEntries(r)) {
      if (e.type !== 'file') continue;
      batch.push(e);
      if (batch.length < BATCH) continue;
      if (!(await verifyBatch(repo, batch, hashes, seen, out, fail, o))) return;
      batch = [];
    }
    await verifyBatch(repo, batch, hashes, seen, out, fail, o);
  } catch (e) {
    if (!isDbkError(e, 'MISSING_CHUNKS') && !isDbkError(e, 'CORRUPT')) throw e;
    fail('', `the revision's metadata cannot be read: ${(e as Error).message}`);
  }
}

/** Verifies some files of a revision; false when a failure ends the check (without `persist`). */
async function verifyBatch(
  repo: Repository,
  files: readonly FileEntry[],
  hashes: readonly ChunkHash[],
  seen: IdTable,
  out: FileVerification,
  fail: (path: string, detail: string) => void,
  o: FileVerifyOptions,
): Promise<boolean> {
  const todo: { e: FileEntry; key: Buffer }[] = [];
  for (const e of files) {
    if (!e.range) {
      out.verified++; // empty file: nothing to rebuild
      continue;
    }
    const key = contentKey(e, hashes);
    if (seen.find(key) >= 0) out.verified++;
    else todo.push({ e, key });
  }
  todo.sort((a, b) => a.e.range!.startChunk - b.e.range!.startChunk);
  const order = todo.flatMap(({ e }) => hashes.slice(e.range!.startChunk, e.range!.endChunk + 1));
  const chunks = new ChunkPrefetcher(order, (h) => repo.readChunk(h), Math.max(2, repo.threads * 2));
  for (const { e, key } of todo) {
    o.signal?.throwIfAborted();
    const problem = await rebuild(e, hashes, chunks);
    if (problem) {
      fail(e.path, problem);
      if (!o.persist) return false;
    } else {
      seen.add(key);
      out.verified++;
    }
  }
  return true;
}

/** Hashes a file's bytes from its chunks; returns what went wrong, if anything. Takes every chunk of the range, so the prefetch order stays in step. */
async function rebuild(e: FileEntry, hashes: readonly ChunkHash[], chunks: ChunkPrefetcher): Promise<string | undefined> {
  const r = e.range!;
  const sha = createHash('sha256');
  let failure: string | undefined;
  for (let i = r.startChunk; i <= r.endChunk; i++) {
    try {
      const chunk = await chunks.get(hashes[i]!);
      sha.update(chunk.subarray(i === r.startChunk ? r.startOffset : 0, i === r.endChunk ? r.endOffset : chunk.length));
    } catch (err) {
      if (!isDbkError(err, 'MISSING_CHUNKS') && !isDbkError(err, 'CORRUPT')) throw err;
      failure ??= (err as Error).message;
    }
  }
  if (failure) return failure;
  return e.hash && sha.digest().equals(e.hash) ? undefined : 'the rebuilt content does not match the file hash';
}

/** Identifies a file's content and the chunks it is rebuilt from: a digest of them. */
function contentKey(e: FileEntry, hashes: readonly ChunkHash[]): Buffer {
  const r = e.range!;
  return createHash('sha256')
    .update(`${e.hash?.toString('hex')}:${r.startOffset}:${r.endOffset}:${hashes.slice(r.startChunk, r.endChunk + 1).join('')}`)
    .digest();
}
