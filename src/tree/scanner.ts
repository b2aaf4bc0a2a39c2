// Walks the repository in backup order: depth first, names sorted by code unit, a folder just
// before its contents. Applies the filters, never enters .dbk/, skips sockets with a notice, and
// reports what it cannot read instead of failing. Records what restore needs to make each entry
// again: nanosecond times, hard-link groups, device numbers, owners' names, extended attributes.
//
// The walk uses synchronous calls: an lstat through the thread pool costs about 40 µs of
// main-thread CPU in callbacks and promises, eight times the system call itself, and a scan is
// tens of thousands of them with nothing else to overlap. It yields to the event loop every few
// milliseconds so a storage connection opened before the scan keeps being served. Folders are
// read as plain names and paths made by concatenation: Dirent objects and path.join() took a
// quarter of a scan of /usr/lib (60,000 entries, each an lstat anyway, which also gives the type).

import { constants, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EntryType, FileEntry } from '../format/file-list.js';
import { nameFromBytes, osPath } from '../format/names.js';
import { DBK_DIR } from '../storage/preferences.js';
import type { Filters } from './filters.js';
import { type Accounts, lstatEntry, readXattrs } from './native-fs.js';

/** What the scan learns of an entry: a file-list entry before its content is read. */
export type ScannedEntry = Omit<FileEntry, 'range' | 'hash' | 'linkOf'> & {
  /** a file with more than one link: "device:inode", the same for each of its names */
  inode?: string;
};

export interface ScanProblem {
  path: string;
  reason: string;
}

export interface ScanReport {
  /** not backed up: unreadable, vanished */
  problems: ScanProblem[];
  /** not backed up by design: sockets */
  skipped: ScanProblem[];
}

export interface ScanResult extends ScanReport {
  entries: ScannedEntry[];
}

export interface ScanOptions {
  /** read extended attributes (and with them POSIX ACLs) */
  xattrs?: boolean;
  /**
   * but not a regular file's: whoever reads the file reads them (a backup's reader, through the
   * descriptor it reads with; see StreamOptions.xattrs), or, if nobody does, addXattrs
   */
  leaveFileXattrs?: boolean;
  /** record owners' names beside their ids */
  accounts?: Accounts;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The order of the walk, and so of every file list: name by name, each by code unit, a folder
 * just before its contents ("a", "a/b", "a.txt": a name that ends sorts first).
 */
export function compareWalkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === SLASH) return -1;
    if (y === SLASH) return 1;
    return x - y;
  }
  return a.length - b.length;
}

const SLASH = 0x2f;
const YIELD_EVERY_MS = 20;

export async function scan(root: string, filters: Filters, options: ScanOptions = {}): Promise<ScanResult> {
  const out: ScanResult = { entries: [], problems: [], skipped: [] };
  for await (const batch of scanTree(root, filters, options, out)) for (const e of batch) out.entries.push(e);
  return out;
}

/** Entries handed on at a time: a folder's worth, so a walk of millions costs no promise per entry. */
const BATCH = 1024;

/**
 * The walk as it goes, in backup order, a batch of entries at a time: memory is the folders being
 * walked, not the tree. What cannot be backed up goes to `report`.
 */
export async function* scanTree(root: string, filters: Filters, options: ScanOptions, report: ScanReport): AsyncGenerator<ScannedEntry[]> {
  const walk: Walk = { base: withSlash(path.resolve(root)), filters, out: report, options };
  // the folders being walked, innermost last, each with the names still to visit
  const stack: Folder[] = [openFolder(walk, '')];
  let batch: ScannedEntry[] = [];
  let since = performance.now();
  while (stack.length > 0) {
    const folder = stack.at(-1)!;
    const name = folder.names[folder.next++];
    if (name === undefined) {
      stack.pop();
      continue;
    }
    const entry = scanEntry(walk, name);
    if (entry === undefined) continue;
    batch.push(entry);
    if (entry.type === 'dir') stack.push(openFolder(walk, name));
    if (batch.length >= BATCH) {
      yield batch;
      batch = [];
      since = performance.now();
    } else if (performance.now() - since > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      since = performance.now();
    }
  }
  if (batch.length > 0) yield batch;
}

interface Walk {
  /** the absolute root, ending in '/': an entry's path is this and its relative path */
  base: string;
  filters: Filters;
  out: ScanReport;
  options: ScanOptions;
}

const withSlash = (p: string) => (p.endsWith('/') ? p : `${p}/`);

interface Folder {
  /** relative paths of the entries to visit, in order */
  names: string[];
  next: number;
}

function openFolder(walk: Walk, rel: string): Folder {
  let names: string[];
  try {
    names = readNames(walk.base + rel);
  } catch (e) {
    walk.out.problems.push({ path: rel || '.', reason: (e as Error).message });
    return { names: [], next: 0 };
  }
  names.sort(byCodeUnit);
  const paths: string[] = [];
  for (const name of names) if (!(rel === '' && name === DBK_DIR)) paths.push(rel === '' ? name : `${rel}/${name}`);
  return { names: paths, next: 0 };
}

/**
 * A folder's names, exactly. Read as text first (the fast, common case); a name that is not UTF-8
 * comes back with U+FFFD in it, and then the folder is read again as bytes.
 */
function readNames(dir: string): string[] {
  const names = readdirSync(osPath(dir));
  if (!names.some((n) => n.includes('\uFFFD'))) return names;
  return readdirSync(osPath(dir), { encoding: 'buffer' }).map(nameFromBytes);
}

/** The entry at `rel`, unless the filters leave it out (a folder is matched as `rel/`). */
function scanEntry(walk: Walk, rel: string): ScannedEntry | undefined {
  const { filters, out } = walk;
  const full = osPath(walk.base + rel);
  try {
    const st = lstatEntry(full);
    const type = entryType(st.mode);
    if (!filters.includes(type === 'dir' ? `${rel}/` : rel)) return undefined;
    if (!type) {
      out.skipped.push({ path: rel, reason: 'a socket (made by the program that listens on it)' });
      return undefined;
    }
    const entry: ScannedEntry = {
      path: rel,
      type,
      mode: st.mode & 0o7777,
      mtimeS: st.mtimeS,
      mtimeNs: st.mtimeNs,
      size: type === 'file' ? st.size : 0,
      uid: st.uid,
      gid: st.gid,
    };
    if (type === 'symlink') entry.target = nameFromBytes(readlinkSync(full, { encoding: 'buffer' }));
    if (type === 'file' && st.linkKey !== undefined) entry.inode = st.linkKey;
    if (type === 'chardev' || type === 'blockdev') entry.rdev = st.rdev;
    addOwnerNames(entry, walk.options.accounts);
    if (walk.options.xattrs && !(type === 'file' && walk.options.leaveFileXattrs)) addXattrs(entry, walk.base + rel, out);
    return entry;
  } catch (e) {
    // what the filters leave out is not a problem, whatever its type was
    if (filters.includes(rel) || filters.includes(`${rel}/`)) out.problems.push({ path: rel, reason: (e as Error).message });
    return undefined;
  }
}

/** An entry whose extended attributes cannot be read is backed up without them, and that is said. */
export function addXattrs(entry: ScannedEntry, full: string | number, out: ScanReport): void {
  try {
    const xattrs = readXattrs(full);
    if (xattrs.length > 0) entry.xattrs = xattrs;
  } catch (e) {
    out.problems.push(withoutXattrs(entry.path, (e as Error).message));
  }
}

export const withoutXattrs = (path: string, reason: string): ScanProblem => ({ path, reason: `backed up without its extended attributes: ${reason}` });

function addOwnerNames(entry: ScannedEntry, accounts: Accounts | undefined): void {
  const user = accounts?.userName(entry.uid);
  const group = accounts?.groupName(entry.gid);
  if (user !== undefined) entry.user = user;
  if (group !== undefined) entry.group = group;
}

const TYPE_BITS = new Map<number, EntryType>([
  [constants.S_IFREG, 'file'],
  [constants.S_IFDIR, 'dir'],
  [constants.S_IFLNK, 'symlink'],
  [constants.S_IFIFO, 'fifo'],
  [constants.S_IFCHR, 'chardev'],
  [constants.S_IFBLK, 'blockdev'],
]);

/** The type an entry's mode bits say; undefined for a socket. */
const entryType = (mode: number): EntryType | undefined => TYPE_BITS.get(mode & constants.S_IFMT);
