// dbk restore: rebuild files of a revision inside the repository folder. Every chunk is verified
// against its hash, every file against its SHA-256; a missing or corrupt chunk is reported with
// the files it breaks, and those files are left as they were. A file that cannot be written
// (a damaged entry, a name too long, no permission) is reported and the others are restored.
// Nothing is written outside the repository, nor into its .dbk/, whatever the revision says.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { isDbkError, usage } from '../errors.js';
import { entryProblem, type FileEntry, mtimeMsOf } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import { displayName, globFromDisplay, nameFromBytes, osPath } from '../format/names.js';
import type { Revision } from '../format/revision.js';
import { type AttributeChoices, RestoredAttributes } from '../restore/attributes.js';
import { FileWriter, WriterStopped } from '../restore/file-writer.js';
import { LinkLeaders, makeLink } from '../restore/hard-links.js';
import { planChunkLoads, RestoreChunks } from '../restore/restore-chunks.js';
import { RestoreWriter } from '../restore/restore-writer.js';
import { isSameSpecial, isSpecial, makeSpecial } from '../restore/special-files.js';
import { DBK_DIR } from '../storage/preferences.js';
import { MissingChunkError, type OpenOptions, Repository } from '../storage/repository.js';
import { Filters } from '../tree/filters.js';
import { checkRevisionPaths, RevisionPathCheck, SafeTree } from '../tree/safe-path.js';
import { compareWalkOrder, scanTree } from '../tree/scanner.js';
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
  /** exact paths as the file list holds them (no glob), each with everything inside it; with patterns, either may choose */
  paths?: string[];
  /** replace existing files that differ */
  overwrite?: boolean;
  /** delete local files the revision does not have */
  delete?: boolean;
  /** compare existing files by content hash, not size and mtime */
  hash?: boolean;
  /** a folder inside the repository folder to restore into, made when missing; the repository folder itself by default */
  into?: string;
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
  if (o.delete && (o.into || o.paths?.length)) throw usage('-delete restores patterns into the repository folder only: not exact paths, nor into a folder inside it');
  const repo = await Repository.open(o);
  try {
    return await runRestore(repo, o);
  } finally {
    await repo.close();
  }
}

/** Patterns are typed as `list` shows names (names.ts), so `\xff` stands for that byte. */
function selector(typed: string[] | undefined, paths: string[] | undefined): (e: FileEntry) => boolean {
  if (!typed?.length && !paths?.length) return () => true;
  const patterns = (typed ?? []).map(globFromDisplay);
  const match = patterns.length > 0 ? picomatch(patterns, { dot: true }) : () => false;
  const exact = paths ?? [];
  const folderAbove = (e: FileEntry) => e.type === 'dir' && [...patterns, ...exact].some((p) => p.startsWith(`${e.path}/`));
  return (e) => match(e.path) || exact.some((p) => e.path === p || e.path.startsWith(`${p}/`)) || folderAbove(e);
}

/** Why an entry is not restored although chosen, or undefined. */
const problemOf = (e: FileEntry, lengths: readonly number[]) => (isDbkPath(e.path) ? "dbk's own folder is never restored into" : entryProblem(e, lengths));

/** Entries read and restored at a time: the restore holds a batch, and the branch of folders it is in. */
const BATCH = 16_384;

/** What a first pass over the list finds, before anything is written. */
interface Survey {
  /** the list is in walk order (lists dbk writes are): checked as a stream, and merged with the target's walk */
  ordered: boolean;
  /** indices of the entries later hard-link names point to */
  linkGroups: Set<number>;
  files: number;
  bytes: number;
  /** exact paths asked for that the revision does not have */
  missing: string[];
}

/** Checks every path before anything is written (a hostile list writes nothing), and finds the link groups and totals. */
async function survey(repo: Repository, rev: Revision, select: (e: FileEntry) => boolean, paths: readonly string[]): Promise<Survey> {
  const check = new RevisionPathCheck();
  const unseen = new Set(paths);
  const out: Survey = { ordered: true, linkGroups: new Set(), files: 0, bytes: 0, missing: [] };
  for await (const entries of repo.fileListBatches(rev))
    for (const e of entries) {
      unseen.delete(e.path);
      if (out.ordered && !check.add(e)) out.ordered = false;
      if (e.linkOf !== undefined) out.linkGroups.add(e.linkOf);
      if (e.type === 'file' && select(e)) {
        out.files++;
        out.bytes += e.size;
      }
    }
  // a list out of walk order (none that dbk wrote) is checked whole
  if (!out.ordered) checkRevisionPaths(await repo.readFileList(rev));
  out.missing = [...unseen];
  return out;
}

/** The items of `pieces` again, `size` at a time. */
async function* inBatches<T>(pieces: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const piece of pieces)
    for (const item of piece) {
      batch.push(item);
      if (batch.length === size) {
        yield batch;
        batch = [];
      }
    }
  if (batch.length > 0) yield batch;
}

/** What the batches of one restore share. */
interface Run {
  repo: Repository;
  o: RestoreOptions;
  result: RestoreResult;
  tree: SafeTree;
  writer: FileWriter;
  attributes: RestoredAttributes;
  warnings: Warnings;
  broken: BrokenFiles;
  leaders: LinkLeaders;
  links: PendingLink[];
  folders: OpenFolders;
  hashes: ChunkHash[];
  lengths: number[];
  progress: RestoreProgress;
}

async function runRestore(repo: Repository, o: RestoreOptions): Promise<RestoreResult> {
  const snapshotId = o.snapshotId ?? repo.snapshotId;
  const rev = await repo.loadRevision(snapshotId, o.revision);
  const select = selector(o.patterns, o.paths);
  const found = await survey(repo, rev, select, o.paths ?? []);
  const [hashes, lengths] = await Promise.all([repo.readChunkHashes(rev), repo.readChunkLengths(rev)]);
  const result: RestoreResult = { snapshotId, revision: o.revision, restoredFiles: 0, restoredBytes: 0, unchangedFiles: 0, keptFiles: [], deletedFiles: [], broken: [], failed: [], warnings: [] };
  for (const p of found.missing) result.warnings.push(`${displayName(p)}: not in revision ${o.revision}, nothing restored for it`);
  const root = await restoreRoot(repo, o.into);
  const tree = new SafeTree(root, o.overwrite ?? false);
  await beginRestore(repo.repoDir, repo.rootDir);
  // a third of the ring holds the largest chunk (see FileWriter.spanLimit)
  const writer = new FileWriter(Math.max(16 << 20, 3 * repo.config.chunkSizes.maximum));
  const run: Run = {
    repo,
    o,
    result,
    tree,
    writer,
    attributes: new RestoredAttributes(o),
    warnings: new Warnings(result),
    broken: new BrokenFiles(repo, hashes),
    leaders: new LinkLeaders(found.linkGroups),
    links: [],
    folders: new OpenFolders(),
    hashes,
    lengths,
    progress: { files: 0, totalFiles: found.files, bytes: 0, totalBytes: found.bytes },
  };
  writer.onWritten = (files, bytes) => {
    result.restoredFiles += files;
    result.restoredBytes += bytes;
  };
  writer.onFileFailure = (f) => result.failed.push({ path: tree.rel(f.path), reason: f.message });
  writer.onWarning = (abs, reason) => run.warnings.add(abs, reason);
  try {
    let index = 0;
    for await (const batch of inBatches(repo.fileListBatches(rev), BATCH)) {
      const chosen: Indexed[] = [];
      for (const e of batch) {
        const at = index++;
        if (!select(e)) continue;
        const problem = problemOf(e, lengths);
        if (problem) result.failed.push({ path: e.path, reason: problem });
        else chosen.push({ e, index: at });
      }
      await restoreBatch(run, chosen);
    }
    setFolderAttributes(run, run.folders.closeAll());
    await writer.drain();
    await makeLinks(run);
  } finally {
    await writer.close();
  }
  await endRestore(repo.repoDir);
  result.broken = run.broken.list();
  if (o.delete) await deleteExtra(repo, rev, (e) => select(e) && problemOf(e, lengths) === undefined, found.ordered, o, result);
  return result;
}

interface Indexed {
  e: FileEntry;
  /** its index in the revision's list */
  index: number;
}

/** A later name of a hard-linked file, made a link once its leader is written. */
interface PendingLink {
  leader: FileEntry;
  w: ToWrite;
  /** its folder, whose times the link changes */
  folder: FileEntry | undefined;
}

async function restoreBatch(run: Run, chosen: Indexed[]): Promise<void> {
  const { tree, result, o } = run;
  // folders left behind for good by this batch get their times once its contents are handed over
  const folderOf = new Map<FileEntry, FileEntry | undefined>();
  const closed = chosen.flatMap(({ e }) => {
    const left = run.folders.enter(e);
    if (e.type === 'file') folderOf.set(e, run.folders.innermost());
    return left;
  });
  await tree.prepareFolders(
    chosen.filter(({ e }) => e.type === 'dir').map(({ e }) => e.path),
    (rel, e) => result.failed.push({ path: rel, reason: reasonOf(e) }),
  );
  const files = chosen.filter(({ e }) => e.type === 'file');
  const keptBefore = result.keptFiles.length;
  const written = await filesToWrite(
    tree,
    files.map(({ e }) => e),
    o,
    result,
  );
  const kept = new Set(result.keptFiles.slice(keptBefore));
  const toWrite = new Map(written.map((w) => [w.entry, w]));
  for (const { e, index } of files) {
    if (kept.has(e.path)) continue;
    const leader = run.leaders.leaderOf(e, index);
    const w = toWrite.get(e);
    if (!leader || !w) continue;
    toWrite.delete(e);
    run.links.push({ leader, w, folder: folderOf.get(e) });
  }
  await writeFiles(run, [...toWrite.values()]);
  for (const { e } of chosen) if (e.type === 'symlink') await perFile(result, e.path, () => restoreSymlink(run, e));
  for (const { e } of chosen) if (isSpecial(e)) await perFile(result, e.path, () => restoreSpecial(tree, e, run.attributes, run.warnings, o, result));
  setFolderAttributes(run, closed);
}

/** Folders get their owner, mode and times after what goes into them, which would change their mtime: deepest first. */
function setFolderAttributes(run: Run, folders: readonly FileEntry[]): void {
  for (const e of folders) {
    if (run.tree.failed(e.path)) continue;
    run.writer.folderAttributes(run.tree.abs(e.path), run.attributes.of(e));
  }
}

/** Hard links last, once every leader is written; their folders' times are set again after. */
async function makeLinks(run: Run): Promise<void> {
  if (run.links.length === 0) return;
  const notRestored = new Set([...run.result.failed.map((f) => f.path), ...run.broken.list().flatMap((b) => b.files)]);
  const folders = new Set<FileEntry>();
  for (const link of run.links) {
    await perFile(run.result, link.w.entry.path, () => linkTo(run.tree, link.leader, link.w, notRestored, run.result));
    if (link.folder) folders.add(link.folder);
  }
  setFolderAttributes(
    run,
    [...folders].sort((a, b) => b.path.length - a.path.length),
  );
  await run.writer.drain();
}

/**
 * The folders chosen above the entry being restored, outermost first. The list is in walk
 * order, so a folder is done with once an entry outside it comes (a list out of order only sets
 * some folders' times before all of their contents are in).
 */
class OpenFolders {
  private readonly open: FileEntry[] = [];

  /** Takes the next entry; returns the folders it leaves behind, deepest first. */
  enter(e: FileEntry): FileEntry[] {
    const closed: FileEntry[] = [];
    while (this.open.length > 0 && !e.path.startsWith(`${this.open.at(-1)!.path}/`)) closed.push(this.open.pop()!);
    if (e.type === 'dir') this.open.push(e);
    return closed;
  }

  /** The innermost open folder: after enter(e) for a file, the chosen folder holding it, if any. */
  innermost(): FileEntry | undefined {
    return this.open.at(-1);
  }

  closeAll(): FileEntry[] {
    return this.open.splice(0).reverse();
  }
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
    if (tree.parentReady(e.path)) placeable.push(e);
    else
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

async function writeFiles(run: Run, files: ToWrite[]): Promise<void> {
  const { repo, tree, writer, lengths, hashes, result, progress, o } = run;
  const start = (w: ToWrite) => w.entry.range!;
  const withData = files.filter((w) => w.entry.range).sort((a, b) => start(a).startChunk - start(b).startChunk || start(a).startOffset - start(b).startOffset);
  const plan = planChunkLoads(
    withData.map((w) => w.entry),
    hashes,
    lengths,
  );
  // as many loads as reads at once, and two more decoded or being decoded
  const chunks = new RestoreChunks(repo, writer, plan.loads, repo.threads + 2);
  const restoring = new RestoreWriter(tree, writer, chunks, plan.loadOf, lengths, run.attributes);
  for (const w of [...files.filter((w) => !w.entry.range), ...withData]) {
    const e = w.entry;
    o.signal?.throwIfAborted();
    try {
      if (writer.backlogged) await writer.room();
      const handing = restoring.restore(e, w.exists, tree.abs(e.path));
      if (handing) await handing;
    } catch (err) {
      if (!run.broken.add(err, e)) failedFile(result, e.path, err);
    }
    progress.files++;
    progress.bytes += e.size;
    o.onProgress?.(progress);
  }
  chunks.releaseBelow(plan.loads.length);
}

/**
 * Where the restore writes: the repository folder, or a folder inside it (made through real folders
 * only). Never dbk's own folder; and with -delete only the repository folder, which its filters describe.
 */
async function restoreRoot(repo: Repository, into: string | undefined): Promise<string> {
  if (into === undefined || into === '') return repo.rootDir;
  const parts = into.split('/');
  if (path.isAbsolute(into) || into.includes('\0') || parts.some((s) => s === '' || s === '.' || s === '..'))
    throw usage(`restore into a folder inside the repository folder, given as a relative path: not ${JSON.stringify(into)}`);
  if (isDbkPath(into)) throw usage("dbk's own folder is never restored into");
  await new SafeTree(repo.rootDir, false).prepareParent(`${into}/-`);
  return path.join(repo.rootDir, into);
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

async function restoreSymlink(run: Run, e: FileEntry): Promise<void> {
  const { tree, writer, attributes, o, result } = run;
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
}

/**
 * Deletes what the target holds beyond the chosen entries (within the patterns). The target's
 * walk and the list, both in walk order, are merged: neither is held. What goes is deleted
 * innermost first, once the walk is over.
 */
async function deleteExtra(repo: Repository, rev: Revision, chosen: (e: FileEntry) => boolean, ordered: boolean, o: RestoreOptions, result: RestoreResult): Promise<void> {
  const inScope = o.patterns?.length ? picomatch(o.patterns.map(globFromDisplay), { dot: true }) : () => true;
  const keptPaths = async function* () {
    for await (const e of repo.fileListEntries(rev)) if (chosen(e)) yield e.path;
  };
  const isKept = ordered ? mergedWith(keptPaths()) : await inSet(keptPaths());
  const doomed: string[] = [];
  for await (const batch of scanTree(repo.rootDir, Filters.load(repo.repoDir), {}, { problems: [], skipped: [] })) {
    for (const e of batch) if (!(await isKept(e.path)) && inScope(e.path)) doomed.push(e.path);
  }
  for (const p of doomed.reverse()) {
    await fs.rm(osPath(path.join(repo.rootDir, p)), { recursive: true, force: true });
    result.deletedFiles.push(p);
  }
}

/** Whether each path, asked in walk order, is among `paths` (also in walk order). */
function mergedWith(paths: AsyncGenerator<string>): (p: string) => Promise<boolean> {
  let next: IteratorResult<string> | undefined;
  return async (p) => {
    next ??= await paths.next();
    while (!next.done && compareWalkOrder(next.value, p) < 0) next = await paths.next();
    return !next.done && next.value === p;
  };
}

async function inSet(paths: AsyncGenerator<string>): Promise<(p: string) => Promise<boolean>> {
  const set = new Set<string>();
  for await (const p of paths) set.add(p);
  return async (p) => set.has(p);
}
