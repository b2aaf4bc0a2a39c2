// dbk restore: rebuild files of a revision inside the repository folder. Every chunk is verified
// against its hash, every file against its SHA-256; a missing or corrupt chunk is reported with
// the files it breaks, and those files are left as they were. A file that cannot be written
// (a damaged entry, a name too long, no permission) is reported and the others are restored.
// Nothing is written outside the repository, nor into its .dbk/, whatever the revision says.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { isDbkError } from '../errors.js';
import { entryProblem, type FileEntry, mtimeMsOf } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import { displayName, globFromDisplay, nameFromBytes, osPath } from '../format/names.js';
import { type AttributeChoices, RestoredAttributes } from '../restore/attributes.js';
import { FileWriter, WriterStopped } from '../restore/file-writer.js';
import { linkLeaders, makeLink } from '../restore/hard-links.js';
import { planChunkLoads, RestoreChunks } from '../restore/restore-chunks.js';
import { RestoreWriter } from '../restore/restore-writer.js';
import { isSameSpecial, isSpecial, makeSpecial } from '../restore/special-files.js';
import { DBK_DIR } from '../storage/preferences.js';
import { MissingChunkError, type OpenOptions, Repository } from '../storage/repository.js';
import { Filters } from '../tree/filters.js';
import { checkRevisionPaths, SafeTree } from '../tree/safe-path.js';
import { scan } from '../tree/scanner.js';
import { beginRestore, endRestore, isUnfinishedRestore } from '../tree/unfinished-file.js';

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface RestoreOptions extends OpenOptions, AttributeChoices {
  revision: number;
  /** snapshot id to restore from; the repository's own by default */
  snapshotId?: string;
  /** globs over paths; everything when empty */
  patterns?: string[];
  /** replace existing files that differ */
  overwrite?: boolean;
  /** delete local files the revision does not have */
  delete?: boolean;
  /** compare existing files by content hash, not size and mtime */
  hash?: boolean;
  onProgress?: (p: RestoreProgress) => void;
}

export interface BrokenChunk {
  chunkId: string;
  reason: string;
  files: string[];
}

export interface RestoreResult {
  snapshotId: string;
  revision: number;
  restoredFiles: number;
  restoredBytes: number;
  /** already identical */
  unchangedFiles: number;
  /** existing and different, left alone without `overwrite` (a file an interrupted restore left unfinished is replaced) */
  keptFiles: string[];
  deletedFiles: string[];
  /** files that could not be restored, with the chunk that broke them */
  broken: BrokenChunk[];
  /** files, links and folders that could not be written, with the reason */
  failed: FailedEntry[];
  /** restored, but without an attribute the target refused (an extended attribute), one line per reason */
  warnings: string[];
}

export interface FailedEntry {
  path: string;
  reason: string;
}

export async function restore(o: RestoreOptions): Promise<RestoreResult> {
  const repo = await Repository.open(o);
  try {
    return await runRestore(repo, o);
  } finally {
    await repo.close();
  }
}

/** Patterns are typed as `list` shows names (names.ts), so `\xff` stands for that byte. */
function selector(typed: string[] | undefined): (e: FileEntry) => boolean {
  if (!typed || typed.length === 0) return () => true;
  const patterns = typed.map(globFromDisplay);
  const match = picomatch(patterns, { dot: true });
  return (e) => match(e.path) || (e.type === 'dir' && patterns.some((p) => p.startsWith(`${e.path}/`)));
}

async function runRestore(repo: Repository, o: RestoreOptions): Promise<RestoreResult> {
  const snapshotId = o.snapshotId ?? repo.snapshotId;
  const rev = await repo.loadRevision(snapshotId, o.revision);
  const all = await repo.readFileList(rev);
  checkRevisionPaths(all);
  const [hashes, lengths] = await Promise.all([repo.readChunkHashes(rev), repo.readChunkLengths(rev)]);
  const result: RestoreResult = { snapshotId, revision: o.revision, restoredFiles: 0, restoredBytes: 0, unchangedFiles: 0, keptFiles: [], deletedFiles: [], broken: [], failed: [], warnings: [] };
  const chosen = all.filter(selector(o.patterns)).filter((e) => {
    const problem = isDbkPath(e.path) ? "dbk's own folder is never restored into" : entryProblem(e, lengths);
    if (problem) result.failed.push({ path: e.path, reason: problem });
    return problem === undefined;
  });
  const tree = new SafeTree(repo.rootDir, o.overwrite ?? false);

  await beginRestore(repo.repoDir, repo.rootDir);
  const folders = chosen.filter((e) => e.type === 'dir');
  await tree.prepareFolders(
    folders.map((e) => e.path),
    (rel, e) => result.failed.push({ path: rel, reason: reasonOf(e) }),
  );
  const chosenFiles = chosen.filter((e) => e.type === 'file');
  const written = await filesToWrite(tree, chosenFiles, o, result);
  const kept = new Set(result.keptFiles);
  const leaders = linkLeaders(all, new Set(chosenFiles.filter((e) => !kept.has(e.path))));
  const files = written.filter((w) => !leaders.has(w.entry));
  // a third of the ring holds the largest chunk (see FileWriter.spanLimit)
  const writer = new FileWriter(Math.max(16 << 20, 3 * repo.config.chunkSizes.maximum));
  const writeFailures = new WriteFailures(tree, chosen, result);
  writer.onFileFailure = (abs, reason) => writeFailures.add(abs, reason);
  const warnings = new Warnings(result);
  writer.onWarning = (abs, reason) => warnings.add(abs, reason);
  const attributes = new RestoredAttributes(o);
  const broken = new BrokenFiles(repo, hashes);
  try {
    await writeFiles(repo, tree, writer, files, lengths, hashes, broken, attributes, o, result);
    // files first: a symlink made here, on this thread, never overtakes a file queued for the writer
    await writer.drain();
    const notRestored = new Set([...result.failed.map((f) => f.path), ...broken.list().flatMap((b) => b.files)]);
    for (const w of written) {
      const leader = leaders.get(w.entry);
      if (leader) await perFile(result, w.entry.path, () => linkTo(tree, leader, w, notRestored, result));
    }
    for (const e of chosen) if (e.type === 'symlink') await perFile(result, e.path, () => restoreSymlink(tree, writer, e, attributes, o, result));
    for (const e of chosen) if (isSpecial(e)) await perFile(result, e.path, () => restoreSpecial(tree, e, attributes, warnings, o, result));
    // folders last, deepest first, so writing their contents does not change their mtime again
    for (const e of folders.reverse()) if (!tree.failed(e.path)) writer.folderAttributes(tree.abs(e.path), attributes.of(e));
    await writer.drain();
  } finally {
    await writer.close();
  }
  await endRestore(repo.repoDir);
  result.broken = broken.list();
  if (o.delete) await deleteExtra(repo.rootDir, Filters.load(repo.repoDir), chosen, o, result);
  return result;
}

/** A file to write, and whether something is at its path already (to be replaced). */
interface ToWrite {
  entry: FileEntry;
  exists: boolean;
}

async function filesToWrite(tree: SafeTree, files: FileEntry[], o: RestoreOptions, result: RestoreResult): Promise<ToWrite[]> {
  const out: ToWrite[] = [];
  const placeable: FileEntry[] = [];
  for (const e of files) {
    await perFile(result, e.path, async () => {
      await tree.prepareParent(e.path);
      placeable.push(e);
    });
  }
  files = placeable;
  // in a folder this restore made, nothing is there to compare with: no need to look
  const existing = files.filter((e) => !tree.inNewFolder(e.path));
  const stats = new Map(existing.map((e, i) => [e, i]));
  const found = await mapInBatches(existing, (e) => fs.lstat(osPath(tree.abs(e.path))).catch(() => undefined));
  for (const e of files) {
    const i = stats.get(e);
    const st = i === undefined ? undefined : found[i];
    const unfinished = st !== undefined && isUnfinishedRestore(st, e);
    if (st?.isFile() && !unfinished && st.size === e.size && (o.hash ? await sameContent(tree.abs(e.path), e) : Math.abs(st.mtimeMs - mtimeMsOf(e)) < 1)) {
      result.unchangedFiles++;
    } else if (st && !o.overwrite && !unfinished) {
      result.keptFiles.push(e.path);
    } else {
      out.push({ entry: e, exists: st !== undefined });
    }
  }
  return out;
}

async function mapInBatches<T, R>(items: T[], fn: (item: T) => Promise<R>, batch = 256): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += batch) out.push(...(await Promise.all(items.slice(i, i + batch).map(fn))));
  return out;
}

/** Whether the file holds the entry's content; an unreadable file does not. */
async function sameContent(abs: string, e: FileEntry): Promise<boolean> {
  const sha = createHash('sha256');
  try {
    for await (const piece of (await fs.open(osPath(abs))).createReadStream()) sha.update(piece as Buffer);
  } catch {
    return false;
  }
  return e.hash !== undefined && sha.digest().equals(e.hash);
}

async function writeFiles(
  repo: Repository,
  tree: SafeTree,
  fileWriter: FileWriter,
  files: ToWrite[],
  lengths: number[],
  hashes: ChunkHash[],
  broken: BrokenFiles,
  attributes: RestoredAttributes,
  o: RestoreOptions,
  result: RestoreResult,
): Promise<void> {
  const start = (w: ToWrite) => w.entry.range!;
  const withData = files.filter((w) => w.entry.range).sort((a, b) => start(a).startChunk - start(b).startChunk || start(a).startOffset - start(b).startOffset);
  const plan = planChunkLoads(
    withData.map((w) => w.entry),
    hashes,
    lengths,
  );
  // as many loads as reads at once, and two more decoded or being decoded
  const chunks = new RestoreChunks(repo, fileWriter, plan.loads, repo.threads + 2);
  const writer = new RestoreWriter(tree, fileWriter, chunks, plan.loadOf, lengths, attributes);
  const progress: RestoreProgress = { files: 0, totalFiles: files.length, bytes: 0, totalBytes: files.reduce((n, w) => n + w.entry.size, 0) };
  for (const { entry: e, exists } of [...files.filter((w) => !w.entry.range), ...withData]) {
    o.signal?.throwIfAborted();
    try {
      await writer.restore(e, exists);
      result.restoredFiles++;
      result.restoredBytes += e.size;
    } catch (err) {
      if (!broken.add(err, e)) failedFile(result, e.path, err);
    }
    progress.files++;
    progress.bytes += e.size;
    o.onProgress?.(progress);
  }
}

/** The top folder of dbk's own state: a revision never writes there (its filters, preferences, pinned host keys). */
const isDbkPath = (rel: string) => rel === DBK_DIR || rel.startsWith(`${DBK_DIR}/`);

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A failure of one file is recorded for it; an interruption, or a writer that has stopped, ends the restore. */
function failedFile(result: RestoreResult, rel: string, e: unknown): void {
  if (e instanceof WriterStopped || isDbkError(e, 'ABORTED') || (e as Error)?.name === 'AbortError') throw e;
  result.failed.push({ path: rel, reason: reasonOf(e) });
}

async function perFile(result: RestoreResult, rel: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    failedFile(result, rel, e);
  }
}

/**
 * Files the writer thread failed to write, reported by absolute path after they were counted as
 * restored: they are taken off the count and listed with their reason.
 */
class WriteFailures {
  private byPath: Map<string, FileEntry> | undefined;

  constructor(
    private readonly tree: SafeTree,
    private readonly chosen: readonly FileEntry[],
    private readonly result: RestoreResult,
  ) {}

  add(abs: string, reason: string): void {
    // made on the first failure only: most restores have none
    this.byPath ??= new Map(this.chosen.map((e) => [this.tree.abs(e.path), e]));
    const e = this.byPath.get(abs);
    if (e?.type !== 'dir') {
      this.result.restoredFiles--;
      this.result.restoredBytes -= e?.size ?? 0;
    }
    this.result.failed.push({ path: e?.path ?? abs, reason });
  }
}

/** Files that could not be restored, by the chunk that broke them. */
class BrokenFiles {
  private readonly byChunk = new Map<string, BrokenChunk>();

  constructor(
    private readonly repo: Repository,
    private readonly hashes: readonly ChunkHash[],
  ) {}

  /** Records a failure that breaks one file (a chunk missing or corrupt); false for one that stops the restore. */
  add(err: unknown, e: FileEntry): boolean {
    const b = this.brokenBy(err, e);
    if (!b) return false;
    const entry = this.byChunk.get(b.chunkId) ?? { ...b, files: [] };
    entry.files.push(e.path);
    this.byChunk.set(b.chunkId, entry);
    return true;
  }

  list(): BrokenChunk[] {
    return [...this.byChunk.values()];
  }

  private brokenBy(err: unknown, e: FileEntry): Omit<BrokenChunk, 'files'> | undefined {
    if (err instanceof MissingChunkError) return { chunkId: err.id, reason: 'missing' };
    if (isDbkError(err, 'CORRUPT')) {
      const id = (err.data.id as string | undefined) ?? (e.range ? this.repo.chunkId(this.hashes[e.range.startChunk]!) : 'file');
      return { chunkId: id, reason: err.message };
    }
    return undefined;
  }
}

/** A hard link of a file written (or found right) before it; fails when that one could not be. */
async function linkTo(tree: SafeTree, leader: FileEntry, w: ToWrite, notRestored: ReadonlySet<string>, result: RestoreResult): Promise<void> {
  if (notRestored.has(leader.path)) {
    throw new Error(`it is a hard link of ${displayName(leader.path)}, which was not restored`);
  }
  await makeLink(tree.abs(leader.path), tree.abs(w.entry.path), w.exists);
  result.restoredFiles++;
  result.restoredBytes += w.entry.size;
}

async function restoreSpecial(tree: SafeTree, e: FileEntry, attributes: RestoredAttributes, warnings: Warnings, o: RestoreOptions, result: RestoreResult): Promise<void> {
  await tree.prepareParent(e.path);
  const abs = tree.abs(e.path);
  const st = tree.inNewFolder(e.path) ? undefined : await fs.lstat(osPath(abs)).catch(() => undefined);
  if (st && (await isSameSpecial(abs, e))) {
    result.unchangedFiles++;
    return;
  }
  if (st && !o.overwrite) {
    result.keptFiles.push(e.path);
    return;
  }
  if (st) await fs.rm(osPath(abs), { recursive: st.isDirectory() });
  for (const w of await makeSpecial(abs, e, attributes.of(e), process.getuid?.() === 0)) warnings.add(abs, w);
  result.restoredFiles++;
}

/** Warnings of the same kind (an attribute a file system refuses, say) are told once, with a count. */
class Warnings {
  private readonly byReason = new Map<string, { first: string; count: number }>();

  constructor(private readonly result: RestoreResult) {}

  add(abs: string, reason: string): void {
    const seen = this.byReason.get(reason);
    if (seen) seen.count++;
    else this.byReason.set(reason, { first: abs, count: 1 });
    this.result.warnings = [...this.byReason].map(([r, w]) => (w.count === 1 ? `${displayName(w.first)}: ${r}` : `${r} (${w.count} files, the first ${displayName(w.first)})`));
  }
}

async function restoreSymlink(tree: SafeTree, writer: FileWriter, e: FileEntry, attributes: RestoredAttributes, o: RestoreOptions, result: RestoreResult): Promise<void> {
  await tree.prepareParent(e.path);
  const abs = tree.abs(e.path);
  const st = tree.inNewFolder(e.path) ? undefined : await fs.lstat(osPath(abs)).catch(() => undefined);
  if (st?.isSymbolicLink() && nameFromBytes(await fs.readlink(osPath(abs), { encoding: 'buffer' })) === e.target) {
    result.unchangedFiles++;
    return;
  }
  if (st && !o.overwrite) {
    result.keptFiles.push(e.path);
    return;
  }
  if (st) await fs.rm(osPath(abs), { recursive: st.isDirectory() });
  writer.symlink(abs, e.target ?? '', attributes.of(e));
  result.restoredFiles++;
}

async function deleteExtra(rootDir: string, filters: Filters, chosen: FileEntry[], o: RestoreOptions, result: RestoreResult): Promise<void> {
  const keep = new Set(chosen.map((e) => e.path));
  const inScope = o.patterns?.length ? picomatch(o.patterns.map(globFromDisplay), { dot: true }) : () => true;
  const local = await scan(rootDir, filters);
  for (const e of local.entries.reverse()) {
    if (keep.has(e.path) || !inScope(e.path)) continue;
    await fs.rm(osPath(path.join(rootDir, e.path)), { recursive: true, force: true });
    result.deletedFiles.push(e.path);
  }
}
