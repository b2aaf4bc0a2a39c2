// Repositories, storages and trees for the engine's tests: a storage in a temporary folder, a
// repository that backs up to it, a second repository joined to the same storage to restore
// into, and a description of a tree (content, mode, mtime, owner, symlink targets) that two
// trees can be compared by, byte for byte.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { init } from '../../src/commands/init.js';
import { DbkError } from '../../src/errors.js';
import type { FileEntry } from '../../src/format/file-list.js';
import { DBK_DIR, readPreferences, writePreferences } from '../../src/storage/preferences.js';
import { Repository } from '../../src/storage/repository.js';
import { tempDir } from './tmp.js';

// Tests are hermetic: settings in the environment (a password, threads, a cache folder) must not
// leak in from the shell that runs them.
// Only the variables naming the test servers' programs stay.
const TOOL_PATHS = /^DBK_TEST_(SSHD|MOTO|RCLONE|CHROMIUM)$/;
for (const key of Object.keys(process.env)) if (key.startsWith('DBK_') && !TOOL_PATHS.test(key)) delete process.env[key];

export const KiB = 1024;
export const PASSWORD = 'correct horse battery staple';

export interface TestStorage {
  /** the storage folder (local backend) */
  storageDir: string;
  encrypted: boolean;
}

export interface TestRepo extends TestStorage {
  repoDir: string;
  /** spread into backup/restore/Repository.open options: the folder, the password prompt, and 2
   * threads (each command starts one codec worker per thread; fewer start faster on small machines) */
  open: { repoDir: string; askPassword: (prompt: string) => Promise<string>; threads: number };
}

export interface RepoOptions {
  encrypt?: boolean;
  /** average chunk size; 64 KiB unless given, so test files stay small */
  chunkSize?: number;
  minChunkSize?: number;
  maxChunkSize?: number;
  snapshotId?: string;
  password?: string;
}

export const asking = (password: string) => async () => password;

/** A new storage and a repository backing up to it. */
export async function makeRepo(o: RepoOptions = {}): Promise<TestRepo> {
  const storageDir = path.join(tempDir('dbk-storage-'), 'storage');
  const repo = await joinRepo({ storageDir, encrypted: o.encrypt ?? false }, o);
  return repo;
}

/** A repository on an existing storage (init joins it): where tests restore into. */
export async function joinRepo(storage: TestStorage, o: RepoOptions = {}, repoDir = tempDir('dbk-repo-')): Promise<TestRepo> {
  const password = o.password ?? PASSWORD;
  await init({
    repoDir,
    snapshotId: o.snapshotId ?? 'test',
    storageUrl: storage.storageDir,
    encrypt: storage.encrypted,
    chunkSize: o.chunkSize ?? 64 * KiB,
    ...(o.minChunkSize === undefined ? {} : { minChunkSize: o.minChunkSize }),
    ...(o.maxChunkSize === undefined ? {} : { maxChunkSize: o.maxChunkSize }),
    kdfLogN: 10,
    askPassword: asking(password),
  });
  // no fsync per chunk: these tests are about formats and logic, not power cuts, and run 5x faster
  const prefs = readPreferences(repoDir);
  writePreferences(repoDir, { ...prefs, storages: prefs.storages.map((s) => ({ ...s, settings: { ...s.settings, fsync: 'false' } })) });
  return { ...storage, repoDir, open: { repoDir, askPassword: asking(password), threads: 2 } };
}

/** Opens the repository's storage for a look inside; closed after `fn`. */
export async function withRepository<T>(repo: TestRepo, fn: (r: Repository) => Promise<T>): Promise<T> {
  const r = await Repository.open(repo.open);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/** The file list of a revision, and the chunk id of each entry of its chunk sequence. */
export async function revisionContents(repo: TestRepo, revision: number): Promise<{ entries: FileEntry[]; chunkIds: string[] }> {
  return withRepository(repo, async (r) => {
    const rev = await r.loadRevision(r.snapshotId, revision);
    const [entries, hashes] = await Promise.all([r.readFileList(rev), r.readChunkHashes(rev)]);
    return { entries, chunkIds: hashes.map((h) => r.chunkId(h)) };
  });
}

/** Storage path of a chunk file, from its id. */
export const chunkFile = (storageDir: string, id: string) => path.join(storageDir, 'chunks', id.slice(0, 2), id.slice(2));

/** Every file below the storage's chunks/ folder, as absolute paths. */
export function chunkFiles(storageDir: string): string[] {
  const root = path.join(storageDir, 'chunks');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

/** Deterministic pseudo-random bytes (incompressible), so a failing test fails the same way again. */
export function seededBytes(length: number, seed: string): Buffer {
  const out = Buffer.allocUnsafe(length);
  let counter = 0;
  for (let pos = 0; pos < length; pos += 32) {
    createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, pos);
  }
  return out;
}

/** Writes a file, creating its folders; `mtimeMs` sets its modification time. */
export function put(root: string, rel: string, content: string | Buffer, o: { mode?: number; mtimeMs?: number } = {}): void {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  if (o.mode !== undefined) fs.chmodSync(abs, o.mode);
  if (o.mtimeMs !== undefined) fs.utimesSync(abs, o.mtimeMs / 1000, o.mtimeMs / 1000);
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** to the millisecond: Node sets times as a double of seconds, which keeps about a quarter microsecond */
  mtimeMs: number;
  uid: number;
  gid: number;
  size: number;
  /** SHA-256 of a file's bytes */
  sha256?: string;
  target?: string;
}

/** Everything a restore must reproduce, per relative path; the repository's own .dbk/ is left out. */
export function describeTree(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === DBK_DIR) continue;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
      const e: TreeEntry = { type, mode: st.mode & 0o7777, mtimeMs: Math.round(st.mtimeMs), uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0 };
      if (type === 'symlink') {
        e.target = fs.readlinkSync(abs);
        e.mode = 0; // link permissions are not restored (Linux ignores them)
      }
      if (type === 'file') e.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
      out[r] = e;
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/** Sets the mtime of every entry below `root` (links included) to distinct values, deepest first. */
export function stampMtimes(root: string, baseMs = 1_600_000_000_000): void {
  const all: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === DBK_DIR) continue;
      all.push(r);
      if (fs.lstatSync(path.join(root, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  all.sort((a, b) => b.split('/').length - a.split('/').length);
  // a millisecond part, so a restore that kept only seconds would show
  all.forEach((r, i) => {
    const t = (baseMs + i * 1_001) / 1000;
    fs.lutimesSync(path.join(root, r), t, t);
  });
}

/** Runs a decoder that must refuse its input with DbkError CORRUPT. */
export function expectCorrupt(fn: () => unknown, what = ''): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected CORRUPT ${what}`).toBeInstanceOf(DbkError);
  expect((caught as DbkError).code, what).toBe('CORRUPT');
}

/** The error `fn` throws; fails when it throws none. */
export function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
