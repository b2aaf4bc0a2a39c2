// A revision's file list as a table to browse: one pass over the list (a stream, in walk order)
// writes every entry into a SQLite file beside the storage's cache, keyed by its parent folder.
// A folder of 50,000 entries is then one indexed query, a file one lookup, and a folder's whole
// subtree one range of list positions, in the memory of SQLite's page cache, whatever the
// revision's size. The file is built under a temporary name and renamed into place, so an
// interrupted build leaves nothing that looks finished; the newest few are kept.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { DbkError } from '../errors.js';
import type { EntryType, FileEntry } from '../format/file-list.js';
import type { Revision } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';
import { RevisionPathCheck } from '../tree/safe-path.js';

/** Bumped when the table changes: an index of another version is built again. */
const INDEX_VERSION = 3;
const KEEP_INDEXES = 8;
const INSERT_BATCH = 20_000;
const INSIDE_PAGE = 1000;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (
  pos INTEGER PRIMARY KEY,  -- the entry's place in the file list
  parent BLOB NOT NULL,     -- '' at the top; names as UTF-16 code units (text() below)
  name BLOB NOT NULL,
  type INTEGER NOT NULL, mode INTEGER NOT NULL, mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  size INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, user BLOB, grp BLOB, target BLOB, rdev INTEGER,
  start_chunk INTEGER, start_offset INTEGER, end_chunk INTEGER, end_offset INTEGER, hash BLOB, link_of INTEGER,
  last INTEGER              -- folders: the place of the last entry inside them
);
CREATE INDEX entries_by_name ON entries (parent, name);
CREATE INDEX entries_by_parent ON entries (parent); -- its rows end in pos: a folder comes out in list order, unsorted`;

const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'fifo', 'chardev', 'blockdev'];

/**
 * Names go in as their UTF-16 code units, not as SQLite TEXT: a name whose bytes are not UTF-8 is
 * a string with lone surrogates (format/names.ts), which TEXT would turn into U+FFFD.
 */
const blob = (s: string) => Buffer.from(s, 'utf16le');
const text = (b: Buffer) => b.toString('utf16le');

interface Row {
  pos: number;
  parent: Buffer;
  name: Buffer;
  type: number;
  mode: number;
  mtime_s: number;
  mtime_ns: number;
  size: number;
  uid: number;
  gid: number;
  user: Buffer | null;
  grp: Buffer | null;
  target: Buffer | null;
  rdev: number | null;
  start_chunk: number | null;
  start_offset: number | null;
  end_chunk: number | null;
  end_offset: number | null;
  hash: Buffer | null;
  link_of: number | null;
  last: number | null;
}

export interface IndexedEntry extends FileEntry {
  /** the last part of the path */
  name: string;
  /** its place in the file list (-1 for the top folder, which has no entry) */
  pos: number;
}

export interface BuildProgress {
  entries: number;
}

const splitPath = (p: string) => {
  const i = p.lastIndexOf('/');
  return i < 0 ? { parent: '', name: p } : { parent: p.slice(0, i), name: p.slice(i + 1) };
};

/** What names a revision's list exactly: a rebuilt index of another revision under the same number never passes for it. */
const identityOf = (r: Revision) => `${r.snapshotId}\n${r.revision}\n${r.startTime}\n${r.sequences.files.join(',')}`;

export class RevisionIndex {
  private readonly byPath: Database.Statement<[Buffer, Buffer], Row>;
  private readonly byParent: Database.Statement<[Buffer, number, number], Row>;
  private readonly countOf: Database.Statement<[Buffer], { n: number }>;
  private readonly byParentAfter: Database.Statement<[Buffer, number, number], Row>;
  private readonly range: Database.Statement<[number, number, number], Row>;

  private constructor(
    private readonly db: Database.Database,
    readonly revision: Revision,
    /** entries in the list */
    readonly entryCount: number,
  ) {
    this.byPath = db.prepare('SELECT * FROM entries WHERE parent = ? AND name = ?');
    this.byParent = db.prepare('SELECT * FROM entries INDEXED BY entries_by_parent WHERE parent = ? ORDER BY pos LIMIT ? OFFSET ?');
    this.byParentAfter = db.prepare('SELECT * FROM entries INDEXED BY entries_by_parent WHERE parent = ? AND pos > ? ORDER BY pos LIMIT ?');
    this.countOf = db.prepare('SELECT count(*) AS n FROM entries INDEXED BY entries_by_parent WHERE parent = ?');
    this.range = db.prepare('SELECT * FROM entries WHERE pos BETWEEN ? AND ? ORDER BY pos LIMIT ?');
  }

  /** The index of a revision, built first when there is none (progress as entries are read). */
  static async open(repo: Repository, r: Revision, onProgress?: (p: BuildProgress) => void): Promise<RevisionIndex> {
    const dir = path.join(repo.cacheDir, 'browse');
    const file = path.join(dir, `${r.snapshotId}.${r.revision}.sqlite`);
    const existing = RevisionIndex.tryOpen(file, r);
    if (existing) return existing;
    // one build of a file at a time in this process; others wait for it
    let building = builds.get(file);
    if (!building) {
      building = buildInto(repo, r, dir, file, onProgress).finally(() => builds.delete(file));
      builds.set(file, building);
    }
    await building;
    const built = RevisionIndex.tryOpen(file, r);
    if (!built) throw new DbkError('CORRUPT', `the browse index ${file} could not be read back`);
    return built;
  }

  /** The entry at a path ('' is the top folder, which has no entry of its own and is given one). */
  entry(p: string): IndexedEntry | undefined {
    if (p === '') return { path: '', name: '', pos: -1, type: 'dir', mode: 0o755, mtimeS: Math.floor(this.revision.startTime / 1000), mtimeNs: 0, size: 0, uid: 0, gid: 0 };
    const { parent, name } = splitPath(p);
    const row = this.byPath.get(blob(parent), blob(name));
    return row && entryOf(row);
  }

  /** A folder's entries in list order, a page at a time. */
  children(folder: string, offset = 0, limit = -1): { total: number; entries: IndexedEntry[] } {
    const total = this.countOf.get(blob(folder))!.n;
    return { total, entries: this.byParent.all(blob(folder), limit, offset).map(entryOf) };
  }

  /** A folder's entries that come after list place `after` (-1: from its first), up to `limit`: paging without OFFSET's rescans. */
  childrenAfter(folder: string, after: number, limit: number): IndexedEntry[] {
    return this.byParentAfter.all(blob(folder), after, limit).map(entryOf);
  }

  /** Everything inside a folder, in list order (a folder's subtree is one run of the list). */
  *inside(folder: string): Generator<IndexedEntry> {
    let first = 0;
    let last = this.entryCount - 1;
    if (folder !== '') {
      const { parent, name } = splitPath(folder);
      const row = this.byPath.get(blob(parent), blob(name));
      if (row?.last === null || row?.last === undefined) return;
      first = row.pos + 1;
      last = row.last;
    }
    // a page at a time: a statement left iterating would keep the connection busy for other readers
    for (let from = first; from <= last; ) {
      const rows = this.range.all(from, last, INSIDE_PAGE);
      if (rows.length === 0) break;
      for (const row of rows) yield entryOf(row);
      from = rows.at(-1)!.pos + 1;
    }
  }

  close(): void {
    this.db.close();
  }

  private static tryOpen(file: string, r: Revision): RevisionIndex | undefined {
    if (!fs.existsSync(file)) return undefined;
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      const meta = new Map(
        db
          .prepare<[], { key: string; value: string }>('SELECT key, value FROM meta')
          .all()
          .map((m) => [m.key, m.value]),
      );
      if (meta.get('version') === String(INDEX_VERSION) && meta.get('identity') === identityOf(r)) {
        const now = new Date();
        fs.utimesSync(file, now, now); // kept among the newest
        return new RevisionIndex(db, r, Number(meta.get('entries')));
      }
      db.close();
    } catch {
      // a damaged or foreign file is built again
    }
    fs.rmSync(file, { force: true });
    return undefined;
  }
}

/** Builds in progress, by file: a second request for the same revision waits for the first. */
const builds = new Map<string, Promise<void>>();

async function buildInto(repo: Repository, r: Revision, dir: string, file: string, onProgress?: (p: BuildProgress) => void): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  removeAbandonedBuilds(dir);
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await build(repo, r, partial, onProgress);
    fs.renameSync(partial, file);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  forgetOldest(dir, file);
}

/** Partial files of processes that are gone (a server killed while it built an index). */
function removeAbandonedBuilds(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = /\.(\d+)\.[0-9a-f]+\.partial$/.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function build(repo: Repository, r: Revision, file: string, onProgress?: (p: BuildProgress) => void): Promise<void> {
  fs.rmSync(file, { force: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(SCHEMA);
    const insert = db.prepare(
      `INSERT INTO entries VALUES (@pos, @parent, @name, @type, @mode, @mtime_s, @mtime_ns, @size, @uid, @gid, @user, @grp, @target, @rdev,
       @start_chunk, @start_offset, @end_chunk, @end_offset, @hash, @link_of, NULL)`,
    );
    const setLast = db.prepare<[number, number]>('UPDATE entries SET last = ? WHERE pos = ?');
    const insertRows = db.transaction((rows: Row[], closed: [number, number][]) => {
      for (const row of rows) insert.run(row);
      for (const [last, pos] of closed) setLast.run(last, pos);
    });
    const check = new RevisionPathCheck();
    // the folders the current entry lies in, outermost first: a folder's run ends where the walk leaves it
    const open: { path: string; pos: number }[] = [];
    let rows: Row[] = [];
    let closed: [number, number][] = [];
    let pos = 0;
    for await (const e of repo.fileListEntries(r)) {
      if (!check.add(e)) throw new DbkError('CORRUPT', `the file list of revision ${r.revision} of '${r.snapshotId}' is not in walk order; it cannot be browsed`);
      while (open.length > 0 && !e.path.startsWith(`${open.at(-1)!.path}/`)) closed.push([pos - 1, open.pop()!.pos]);
      if (e.type === 'dir') open.push({ path: e.path, pos });
      rows.push(rowOf(pos++, e));
      if (rows.length >= INSERT_BATCH) {
        insertRows(rows, closed);
        rows = [];
        closed = [];
        onProgress?.({ entries: pos });
      }
    }
    for (const folder of open) closed.push([pos - 1, folder.pos]);
    insertRows(rows, closed);
    const setMeta = db.prepare<[string, string]>('INSERT INTO meta VALUES (?, ?)');
    setMeta.run('version', String(INDEX_VERSION));
    setMeta.run('identity', identityOf(r));
    setMeta.run('entries', String(pos));
    onProgress?.({ entries: pos });
  } finally {
    db.close();
  }
}

/** Keeps the newest few indexes (by last use): a revision browsed once costs its disk only for a while. */
function forgetOldest(dir: string, keep: string): void {
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.sqlite'))
    .map((n) => path.join(dir, n))
    .filter((f) => f !== keep)
    .map((f) => ({ f, used: fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.used - a.used);
  for (const { f } of files.slice(KEEP_INDEXES - 1)) fs.rmSync(f, { force: true });
}

function rowOf(pos: number, e: FileEntry): Row {
  const { parent, name } = splitPath(e.path);
  return {
    pos,
    parent: blob(parent),
    name: blob(name),
    type: TYPES.indexOf(e.type),
    mode: e.mode,
    mtime_s: e.mtimeS,
    mtime_ns: e.mtimeNs,
    size: e.size,
    uid: e.uid,
    gid: e.gid,
    user: e.user === undefined ? null : blob(e.user),
    grp: e.group === undefined ? null : blob(e.group),
    target: e.target === undefined ? null : blob(e.target),
    rdev: e.rdev ?? null,
    start_chunk: e.range?.startChunk ?? null,
    start_offset: e.range?.startOffset ?? null,
    end_chunk: e.range?.endChunk ?? null,
    end_offset: e.range?.endOffset ?? null,
    hash: e.hash ?? null,
    link_of: e.linkOf ?? null,
    last: null,
  };
}

function entryOf(row: Row): IndexedEntry {
  const parent = text(row.parent);
  const name = text(row.name);
  const e: IndexedEntry = {
    path: parent === '' ? name : `${parent}/${name}`,
    name,
    pos: row.pos,
    type: TYPES[row.type]!,
    mode: row.mode,
    mtimeS: row.mtime_s,
    mtimeNs: row.mtime_ns,
    size: row.size,
    uid: row.uid,
    gid: row.gid,
  };
  if (row.user !== null) e.user = text(row.user);
  if (row.grp !== null) e.group = text(row.grp);
  if (row.target !== null) e.target = text(row.target);
  if (row.rdev !== null) e.rdev = row.rdev;
  if (row.start_chunk !== null) e.range = { startChunk: row.start_chunk, startOffset: row.start_offset!, endChunk: row.end_chunk!, endOffset: row.end_offset! };
  if (row.hash !== null) e.hash = row.hash;
  if (row.link_of !== null) e.linkOf = row.link_of;
  return e;
}
