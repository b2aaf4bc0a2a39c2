// dbk backup: scan the repository, keep unchanged files' chunks, read the rest as one stream cut
// into content-defined chunks, upload what the storage lacks, and write the revision.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { cacheWrittenRevision } from '../backup/backup-cache-hook.js';
import { ChunkSequenceBuilder } from '../backup/chunk-sequence.js';
import { ChunkUploader, type UploadStats } from '../backup/chunk-uploader.js';
import { IncompleteBackup } from '../backup/incomplete.js';
import { listedChunks, StoredChunks } from '../backup/stored-chunks.js';
import { readStream } from '../backup/stream-reader.js';
import { findLostChunks } from '../catalog/fossil-moves.js';
import { BackupAnnouncement, runningBackups, runningPath } from '../catalog/running-backups.js';
import { now } from '../clock.js';
import { DbkError, isDbkError } from '../errors.js';
import type { FileEntry } from '../format/file-list.js';
import { encodeFileList, entryProblem } from '../format/file-list.js';
import type { ChunkHash, ChunkId } from '../format/ids.js';
import { MAX_FILE_LIST_BYTES, MAX_REVISION_CHUNKS, type Revision } from '../format/revision.js';
import { readPreferences } from '../storage/preferences.js';
import { type OpenOptions, Repository } from '../storage/repository.js';
import { Filters } from '../tree/filters.js';
import { Accounts, nativeMissing } from '../tree/native-fs.js';
import { type ScannedEntry, type ScanProblem, type ScanResult, scan } from '../tree/scanner.js';
import { isRestoreLeftover, restoreUnfinished } from '../tree/unfinished-file.js';

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
  /** back up extended attributes and ACLs (the default) */
  xattrs?: boolean;
  onProgress?: (p: BackupProgress) => void;
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
  /** not backed up by design: sockets */
  skipped: ScanProblem[];
  startTime: number;
  endTime: number;
}

export async function backup(o: BackupOptions): Promise<BackupResult> {
  const repoDir = path.resolve(o.repoDir);
  // the scan needs no key: it walks the tree while scrypt derives the key in the thread pool
  // and the previous revision loads
  const scanning = scan(readPreferences(repoDir).root ?? repoDir, Filters.load(repoDir), { xattrs: o.xattrs ?? true, accounts: new Accounts() });
  scanning.catch(() => {}); // awaited in runBackup; a failure to open is reported first
  const repo = await Repository.open(o);
  try {
    repo.useAllCoresForCodec();
    if (nativeMissing) repo.log.warn(`extended attributes and owner names are not backed up: ${nativeMissing}`);
    return await runBackup(repo, o, scanning);
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
 * Node sets file times through a double of seconds, so a file dbk restored has an mtime within a
 * microsecond of the one recorded, not equal to it: without this slack every restored file would
 * be read again by the next backup.
 */
const MTIME_SLACK_NS = 2000;

const sameTime = (a: ScannedEntry, b: FileEntry) => Math.abs((a.mtimeS - b.mtimeS) * 1e9 + (a.mtimeNs - b.mtimeNs)) < MTIME_SLACK_NS;

/** Unchanged by size and mtime, and its previous entry sound: a damaged one is not carried into the new revision, the file is read again. */
const unchanged = (s: ScannedEntry, p: FileEntry | undefined, lengths: readonly number[]): p is FileEntry =>
  p !== undefined && p.type === 'file' && p.size === s.size && sameTime(s, p) && p.range !== undefined && entryProblem(p, lengths) === undefined;

async function runBackup(repo: Repository, o: BackupOptions, scanning: Promise<ScanResult>): Promise<BackupResult> {
  if (o.dryRun) return backUp(repo, o, scanning, undefined);
  // before the previous revision or any chunk is looked at: from now on, no prune deletes what this backup may use
  const announcement = await BackupAnnouncement.announce(repo, repo.snapshotId);
  try {
    return await backUp(repo, o, scanning, announcement);
  } finally {
    await announcement.withdraw();
  }
}

async function backUp(repo: Repository, o: BackupOptions, scanning: Promise<ScanResult>, announcement: BackupAnnouncement | undefined): Promise<BackupResult> {
  const startTime = now();
  // this repository's backups killed before they could withdraw their announcements hold up prune: not for long
  const clearing = announcement && runningBackups(repo).catch((e: unknown) => repo.log.debug(`could not look for dead backups: ${(e as Error).message}`));
  const [previous, listed, scanned] = await Promise.all([loadPrevious(repo), listedChunks(repo), scanning.then((s) => skipRestoreLeftovers(repo.repoDir, s)), clearing]);
  const incomplete = o.dryRun ? undefined : new IncompleteBackup(repo.cacheDir, repo.snapshotId);
  const stored = new StoredChunks(previous.ids, listed, incomplete?.load() ?? new Set());
  const uploader = new ChunkUploader(repo, stored, incomplete, o.dryRun ?? false);
  const sequence = new ChunkSequenceBuilder(previous.hashes, previous.lengths);

  // the scan's entries, in scan order, become the file list: content fields are filled in below
  const entries: FileEntry[] = scanned.entries;
  const toRead: FileEntry[] = [];
  const links = new LinkGroups();
  for (const e of entries) {
    if (e.type !== 'file' || links.isSecondName(e)) continue;
    const prev = previous.files.get(e.path);
    if (e.size === 0) {
      e.hash = EMPTY_SHA256;
    } else if (!o.hash && unchanged(e, prev, previous.lengths)) {
      e.range = sequence.reuse(prev.range!);
      e.hash = prev.hash!;
    } else {
      toRead.push(e);
    }
  }

  const read = await readChanged(repo, toRead, uploader, sequence, o);
  const { dropped, readBytes } = read;
  const problems = [...scanned.problems, ...read.problems, ...links.shareContent()];
  const kept = entries.filter((e) => !dropped.has(e) && !(e.type === 'file' && e.size > 0 && !e.range));
  linkOfIndices(kept);
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
  if (announcement) {
    const written = await writeRevision(repo, previous.latest, kept, sequence, result, o.tag ?? '', (sequences) => makeSureOfChunks(repo, announcement, [...sequences, ...sequence.hashes]));
    result.revision = written.revision;
    incomplete?.clear();
    await cacheWrittenRevision(repo, written, sequence.hashes);
  }
  result.endTime = now();
  return result;
}

/**
 * Called with every chunk the revision will reference, just before it is written. Normally the
 * announcement is still there and nothing needs doing. If it has gone (a prune or a user took
 * this backup for dead while it was held), prunes may have made fossils of this backup's chunks,
 * even deleted some: announce again, then find every chunk, bringing back fossils, and refuse to
 * write the revision if any is gone.
 */
async function makeSureOfChunks(repo: Repository, announcement: BackupAnnouncement, hashes: readonly ChunkHash[]): Promise<void> {
  if (await announcement.isStillThere()) return;
  repo.log.warn(`this backup's announcement ${runningPath(announcement.name)} was removed while it ran: making sure every chunk it references is on the storage`);
  await announcement.renew(); // withdrawn, as the first would have been, once the revision is written
  const lost = await findLostChunks(repo, new Set(hashes.map((h) => repo.chunkId(h))));
  if (lost.length > 0) {
    throw new DbkError('CONFLICT', `${lost.length} chunks this backup uploaded were deleted by a prune while it was held (its announcement had been removed); no revision was written`, {
      hint: 'run the backup again: it uploads them anew',
    });
  }
}

const EMPTY_SHA256 = createHash('sha256').digest();

/**
 * The names of one file (hard links) share its content: it is read once, under its first name,
 * and the others take that name's content once it is read.
 */
class LinkGroups {
  private readonly first = new Map<string, FileEntry>();
  private readonly others: [FileEntry, FileEntry][] = [];

  isSecondName(e: FileEntry & ScannedEntry): boolean {
    if (e.inode === undefined) return false;
    const first = this.first.get(e.inode);
    if (!first) this.first.set(e.inode, e);
    else this.others.push([e, first]);
    return first !== undefined;
  }

  /** Gives each other name its first name's content; what could not be read is a problem of each of its names. */
  shareContent(): ScanProblem[] {
    const problems: ScanProblem[] = [];
    for (const [e, first] of this.others) {
      if (first.hash === undefined || (first.size > 0 && !first.range)) {
        problems.push({ path: e.path, reason: `a hard link of ${first.path}, which could not be read` });
        continue;
      }
      e.size = first.size;
      e.hash = first.hash;
      if (first.range) e.range = first.range;
    }
    return problems;
  }
}

/** Marks the later names of each hard-linked file in the file list with the index of its first. */
function linkOfIndices(entries: (FileEntry & ScannedEntry)[]): void {
  const first = new Map<string, number>();
  for (const [i, e] of entries.entries()) {
    if (e.inode === undefined) continue;
    const at = first.get(e.inode);
    if (at === undefined) first.set(e.inode, i);
    else e.linkOf = at;
  }
}

/**
 * While a restore into this folder is unfinished, its half-written files are not the user's:
 * they are left out (and reported), so that the revision never records them as the latest version.
 */
async function skipRestoreLeftovers(repoDir: string, scanned: ScanResult): Promise<ScanResult> {
  if (!(await restoreUnfinished(repoDir))) return scanned;
  const problems = [...scanned.problems];
  const entries = scanned.entries.filter((e) => {
    if (!isRestoreLeftover(e)) return true;
    problems.push({ path: e.path, reason: 'left half written by a restore that did not finish (run that restore again)' });
    return false;
  });
  return { ...scanned, entries, problems };
}

/**
 * Reads the changed files as one stream, uploads its new chunks, and gives each file read its
 * size, hash and (once every cut is known) range. Files that failed are returned as dropped.
 */
async function readChanged(repo: Repository, toRead: FileEntry[], uploader: ChunkUploader, sequence: ChunkSequenceBuilder, o: BackupOptions) {
  const problems: ScanProblem[] = [];
  const dropped = new Set<FileEntry>();
  // where each file read lies in the stream, by its index in toRead (typed: 100,000 pairs of
  // boxed numbers were 9 MB)
  const streamStart = new Float64Array(toRead.length).fill(-1);
  const streamEnd = new Float64Array(toRead.length);
  const progress: BackupProgress = { files: 0, totalFiles: toRead.length, bytes: 0, totalBytes: toRead.reduce((n, f) => n + f.size, 0) };
  o.onProgress?.(progress); // the totals, once the scan is done and before any file is read
  let readBytes = 0;
  let streamBytes = 0; // bytes in the stream so far: where the next file starts
  let next = 0; // the file whose result comes next
  const { chunkSizes, keys } = repo.config;
  for await (const event of readStream({ root: repo.rootDir, files: toRead, chunkSizes, chunkSeed: keys.chunkSeed, hashKey: keys.hashKey })) {
    o.signal?.throwIfAborted();
    if (event.kind === 'chunk') {
      sequence.addStreamChunk(await uploader.add(event.data, event.hash, event.release), event.data.length);
      continue;
    }
    const { fed, hash, error } = event.read;
    const i = next++;
    const file = toRead[i]!;
    const start = streamBytes;
    streamBytes += fed;
    progress.files++;
    progress.bytes += fed;
    o.onProgress?.(progress);
    if (error !== undefined || hash === undefined) {
      // the bytes already fed stay in the stream, unreferenced; the file is left out
      problems.push({ path: file.path, reason: error ?? 'not read' });
      dropped.add(file);
      continue;
    }
    readBytes += fed;
    file.size = fed;
    file.hash = hash;
    if (fed > 0) {
      streamStart[i] = start;
      streamEnd[i] = streamBytes;
    }
  }
  await uploader.drain();
  for (const [i, e] of toRead.entries()) if (streamStart[i]! >= 0) e.range = sequence.resolveStream(streamStart[i]!, streamEnd[i]!);
  return { problems, dropped, readBytes };
}

async function writeRevision(
  repo: Repository,
  latest: number,
  entries: FileEntry[],
  sequence: ChunkSequenceBuilder,
  r: BackupResult,
  tag: string,
  beforeSaving: (metadata: ChunkHash[]) => Promise<void>,
): Promise<Revision> {
  const hashes = sequence.hashes;
  const lengths = Buffer.alloc(hashes.length * 4);
  for (const [i, n] of sequence.lengths.entries()) lengths.writeUInt32LE(n, i * 4);
  const fileList = encodeFileList(entries);
  if (fileList.length > MAX_FILE_LIST_BYTES || hashes.length > MAX_REVISION_CHUNKS) {
    throw new DbkError(
      'USAGE',
      `too much for one revision (${entries.length} entries, ${hashes.length} chunks): readers refuse file lists over ${MAX_FILE_LIST_BYTES >> 20} MiB and more than ${MAX_REVISION_CHUNKS} chunks`,
      {
        hint: 'back up the tree as several repositories, or exclude part of it in .dbk/filters',
      },
    );
  }
  const [files, chunkHashes, chunkLengths] = await Promise.all([repo.writeSequence(fileList), repo.writeSequence(Buffer.from(hashes.join(''), 'hex')), repo.writeSequence(lengths)]);
  await beforeSaving([...files, ...chunkHashes, ...chunkLengths]);
  for (let revision = Math.max(latest, await repo.highestRevisionNumber(repo.snapshotId)) + 1; ; revision++) {
    const record: Revision & { fileListBytes: number } = {
      snapshotId: repo.snapshotId,
      revision,
      startTime: r.startTime,
      endTime: now(),
      tag,
      fileCount: r.files,
      fileBytes: r.bytes,
      chunkCount: hashes.length,
      fileListBytes: fileList.length,
      options: { host: hostname() },
      sequences: { files, chunkHashes, chunkLengths },
    };
    try {
      await repo.saveRevision(record);
      return record;
    } catch (e) {
      if (!isDbkError(e, 'ALREADY_EXISTS')) throw e; // another backup of this id took the number
    }
  }
}
