// The SQLite file behind a storage's local cache: opening it so that several dbk processes can
// share it (WAL, a busy timeout, writes in IMMEDIATE transactions), the schema and its version,
// and the rule that a cache can always be thrown away: a damaged file or one written by another
// schema version is rebuilt empty, with a notice, and everything in it is computed again.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { isDbkError } from '../src/errors.js';
import type { Logger } from '../src/log.js';

export type Db = Database.Database;

/** Bump on any change to the tables or the blob formats in them. */
export const CACHE_SCHEMA_VERSION = 1;
export const CACHE_FILE = 'cache.sqlite';
/** How long a process waits for another one's write transaction before giving up. */
const BUSY_TIMEOUT_MS = 60_000;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- chunk ids, 32 bytes each, numbered by position: page p holds numbers p*PAGE_IDS … (p+1)*PAGE_IDS-1
CREATE TABLE dictionary (page INTEGER PRIMARY KEY, ids BLOB NOT NULL);
-- the last full listing of chunks/: chunk sizes by number (raw uint32 LE, absent = 0xffffffff), fossils as a set
CREATE TABLE chunk_list (
  slot INTEGER PRIMARY KEY CHECK (slot = 1),
  listed_at INTEGER NOT NULL,
  sizes BLOB NOT NULL,
  fossils BLOB NOT NULL,
  fossil_sizes BLOB NOT NULL
);
-- prune records (fossils/<name>) already taken into account, per part of the cache
CREATE TABLE journal (scope TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (scope, name)) WITHOUT ROWID;
-- one row per revision: its summary and its chunk set, whole (base = 0) or as the change from
-- the previous cached revision of the same snapshot id (base = that revision)
CREATE TABLE revisions (
  snapshot_id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  file_size INTEGER,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  tag TEXT NOT NULL,
  file_count INTEGER NOT NULL,
  file_bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  base INTEGER NOT NULL,
  added BLOB NOT NULL,
  removed BLOB NOT NULL,
  PRIMARY KEY (snapshot_id, revision)
) WITHOUT ROWID;
-- chunks downloaded and verified by check -chunks, by number
CREATE TABLE verified (n INTEGER PRIMARY KEY);
`;

/** Opens (creating or rebuilding as needed) the cache database in `dir`. */
export function openCacheDb(dir: string, log: Logger): Db {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, CACHE_FILE);
  try {
    return prepare(file, log);
  } catch (e) {
    if (!isSqliteCorruption(e)) throw e;
    log.warn(`the cache ${file} was damaged (${(e as Error).message}); it is rebuilt`);
    removeCacheFiles(file);
    return prepare(file, log);
  }
}

/** A cache that lives only as long as the process: for runs with the revision cache turned off. */
export function openMemoryCacheDb(log: Logger): Db {
  return prepare(':memory:', log);
}

function prepare(file: string, log: Logger): Db {
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    retryWhileBusy(() => db.pragma('journal_mode = WAL'));
    db.pragma('synchronous = NORMAL');
    retryWhileBusy(() => db.transaction(() => ensureSchema(db, file, log)).immediate());
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Two processes opening a new cache file at once race to switch it to WAL and create its tables;
 * where waiting could deadlock, SQLite answers "database is locked" at once instead of calling
 * its busy handler, so those steps are tried again for as long as the busy timeout.
 */
function retryWhileBusy<T>(step: () => T): T {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return step();
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20);
    }
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function ensureSchema(db: Db, file: string, log: Logger): void {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  if (tables.includes('meta')) {
    const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).pluck().get();
    if (version === String(CACHE_SCHEMA_VERSION)) return;
    log.warn(`the cache ${file} has format ${String(version)}, this dbk uses ${CACHE_SCHEMA_VERSION}; it is rebuilt`);
  }
  for (const t of tables) db.exec(`DROP TABLE "${t.replace(/"/g, '""')}"`);
  db.exec(SCHEMA);
  db.prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?)`).run(String(CACHE_SCHEMA_VERSION));
}

/** Empties every table: for a cache whose contents failed to decode. */
export function clearCache(db: Db): void {
  db.transaction(() => {
    for (const t of ['dictionary', 'chunk_list', 'journal', 'revisions', 'verified']) db.exec(`DELETE FROM ${t}`);
  }).immediate();
}

export function removeCacheFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

/** SQLite's own verdict that the file is not a sound database. */
export function isSqliteCorruption(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return e instanceof Database.SqliteError && (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB');
}

/** Whether an error means the cache (not the storage) is damaged, so that rebuilding it is the cure. */
export function isCacheDamage(e: unknown): boolean {
  return isSqliteCorruption(e) || (isDbkError(e, 'CORRUPT') && String(e.data.what).startsWith('cache'));
}
