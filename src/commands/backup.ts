// dbk backup: scan the repository, keep unchanged files' chunks, read the rest as one stream cut
// into content-defined chunks, upload what the storage lacks, and write the revision.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { isDbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import { encodeFileList } from '../format/file-list.js';
import type { ChunkHash, ChunkId } from '../format/ids.js';
import type { Revision } from '../format/revision.js';
import { Chunker } from '../chunking/fastcdc.js';
import { ChunkSequenceBuilder } from '../engine/chunk-sequence.js';
import { ChunkUploader, type UploadStats } from '../engine/chunk-uploader.js';
import { readInOrder } from '../engine/file-reader.js';
import { Filters } from '../engine/filters.js';
import { IncompleteBackup } from '../engine/incomplete.js';
import { type OpenOptions, Repository } from '../engine/repository.js';
import { type ScanProblem, type ScannedEntry, scan } from '../engine/scanner.js';

export interface BackupProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface BackupOptions extends OpenOptions {
  tag?: string;
  /** read every file, even those whose size and mtime are unchanged */
  hash?: boolean;
  /** do everything but upload and write the revision */
  dryRun?: boolean;
  onProgress?: (p: BackupProgress) => void;
  signal?: AbortSignal;
}

export interface BackupResult extends UploadStats {
  snapshotId: string;
  /** undefined on a dry run */
  revision: number | undefined;
  files: number;
  bytes: number;
  /** files read this time (new or changed, or all with `hash`) */
  readFiles: number;
  readBytes: number;
  /** not backed up: unreadable or vanished */
  problems: ScanProblem[];
  /** not backed up by design: sockets, fifos, devices */
  skipped: ScanProblem[];
  startTime: number;
  endTime: number;
}

export async function backup(o: BackupOptions): Promise<BackupResult> {
  const repo = await Repository.open(o);
  try {
    return await runBackup(repo, o);
  } finally {
    await repo.close();
  }
}

interface Previous {
  files: Map<string, FileEntry>;
  hashes: ChunkHash[];
  lengths: number[];
  ids: Set<ChunkId>;
  latest: number;
}

async function loadPrevious(repo: Repository): Promise<Previous> {
  const revisions = await repo.listRevisions(repo.snapshotId);
  const latest = revisions.at(-1);
  if (latest === undefined) return { files: new Map(), hashes: [], lengths: [], ids: new Set(), latest: 0 };
  const r = await repo.loadRevision(repo.snapshotId, latest);
  const [entries, hashes, lengths] = await Promise.all([repo.readFileList(r), repo.readChunkHashes(r), repo.readChunkLengths(r)]);
  const ids = new Set(hashes.map((h) => repo.chunkId(h)));
  return { files: new Map(entries.map((e) => [e.path, e])), hashes, lengths, ids, latest };
}

/**
 * Node sets file times with microsecond resolution through a double of seconds (libuv truncates),
 * so a restored file's mtime can differ from the recorded one by a little over a microsecond:
 * without this slack every restored file would be read again by the next backup.
 */
const MTIME_SLACK_MS = 0.002;

const unchanged = (s: ScannedEntry, p: FileEntry | undefined): p is FileEntry =>
  p !== undefined && p.type === 'file' && p.size === s.size && Math.abs(p.mtimeMs - s.mtimeMs) < MTIME_SLACK_MS && p.range !== undefined;

async function runBackup(repo: Repository, o: BackupOptions): Promise<BackupResult> {
  const startTime = Date.now();
  const previous = await loadPrevious(repo);
  const scanned = await scan(repo.rootDir, Filters.load(repo.repoDir));
  const incomplete = o.dryRun ? undefined : new IncompleteBackup(repo.cacheDir, repo.snapshotId);
  const uploader = new ChunkUploader(repo, previous.ids, incomplete?.load() ?? new Set(), incomplete, o.dryRun ?? false);
  const sequence = new ChunkSequenceBuilder(previous.hashes, previous.lengths);

  // files keep scan order; stream offsets of read files are resolved to ranges at the end
  const entries: FileEntry[] = [];
  const toRead: { entry: FileEntry; path: string; size: number }[] = [];
  for (const s of scanned.entries) {
    const e: FileEntry = { path: s.path, type: s.type, mode: s.mode, mtimeMs: s.mtimeMs, size: s.size, uid: s.uid, gid: s.gid };
    if (s.target !== undefined) e.target = s.target;
    const prev = previous.files.get(s.path);
    if (s.type === 'file' && s.size > 0) {
      if (!o.hash && unchanged(s, prev)) {
        e.range = sequence.reuse(prev.range!);
        e.hash = prev.hash!;
      } else {
        toRead.push({ entry: e, path: s.path, size: s.size });
      }
    } else if (s.type === 'file') {
      e.hash = EMPTY_SHA256;
    }
    entries.push(e);
  }

  const problems = [...scanned.problems];
  const streamRanges = new Map<FileEntry, [number, number]>();
  const dropped = new Set<FileEntry>();
  const progress: BackupProgress = { files: 0, totalFiles: toRead.length, bytes: 0, totalBytes: toRead.reduce((n, f) => n + f.size, 0) };
  const chunker = new Chunker(repo.config.chunkSizes, repo.config.keys.chunkSeed);
  const emit = async (chunk: Buffer) => {
    const length = chunk.length;
    sequence.addStreamChunk(await uploader.add(chunk), length);
  };
  let readBytes = 0;
  let fed = 0; // bytes fed to the chunker: the stream offset of the next byte
  for await (const item of readInOrder(repo.rootDir, toRead)) {
    o.signal?.throwIfAborted();
    const start = fed;
    const sha = createHash('sha256');
    let size = 0;
    try {
      for await (const piece of item.pieces) {
        sha.update(piece);
        size += piece.length;
        fed += piece.length;
        for (const chunk of chunker.push(piece)) await emit(chunk);
        progress.bytes += piece.length;
      }
    } catch (e) {
      if (isDbkError(e) || (e as Error).name === 'AbortError') throw e;
      // the bytes already fed stay in the stream, unreferenced; the file is left out
      problems.push({ path: item.file.path, reason: (e as Error).message });
      dropped.add(item.file.entry);
      continue;
    } finally {
      progress.files++;
      o.onProgress?.(progress);
    }
    readBytes += size;
    const e = item.file.entry;
    e.size = size;
    e.hash = sha.digest();
    if (size > 0) streamRanges.set(e, [start, start + size]);
  }
  const last = chunker.finish();
  if (last) await emit(last);
  await uploader.drain();

  for (const [e, [s, end]] of streamRanges) e.range = sequence.resolveStream(s, end);
  const kept = entries.filter((e) => !dropped.has(e) && !(e.type === 'file' && e.size > 0 && !e.range));
  const files = kept.filter((e) => e.type === 'file');
  const result: BackupResult = {
    snapshotId: repo.snapshotId,
    revision: undefined,
    files: files.length,
    bytes: files.reduce((n, e) => n + e.size, 0),
    readFiles: toRead.length - dropped.size,
    readBytes,
    problems,
    skipped: scanned.skipped,
    startTime,
    endTime: 0,
    ...uploader.stats,
  };
  if (!o.dryRun) {
    result.revision = await writeRevision(repo, previous.latest, kept, sequence, result, o.tag ?? '');
    incomplete?.clear();
  }
  result.endTime = Date.now();
  return result;
}

const EMPTY_SHA256 = createHash('sha256').digest();

async function writeRevision(repo: Repository, latest: number, entries: FileEntry[], sequence: ChunkSequenceBuilder, r: BackupResult, tag: string): Promise<number> {
  const hashes = sequence.hashes;
  const lengths = Buffer.alloc(hashes.length * 4);
  sequence.lengths.forEach((n, i) => lengths.writeUInt32LE(n, i * 4));
  const [files, chunkHashes, chunkLengths] = await Promise.all([
    repo.writeSequence(encodeFileList(entries)),
    repo.writeSequence(Buffer.from(hashes.join(''), 'hex')),
    repo.writeSequence(lengths),
  ]);
  for (let revision = latest + 1; ; revision++) {
    const record: Revision = {
      snapshotId: repo.snapshotId,
      revision,
      startTime: r.startTime,
      endTime: Date.now(),
      tag,
      fileCount: r.files,
      fileBytes: r.bytes,
      chunkCount: hashes.length,
      options: { host: hostname() },
      sequences: { files, chunkHashes, chunkLengths },
    };
    try {
      await repo.saveRevision(record);
      return revision;
    } catch (e) {
      if (!isDbkError(e, 'ALREADY_EXISTS')) throw e; // another backup of this id took the number
    }
  }
}
