// Walks the repository in backup order: depth first, names sorted by code unit, a folder just
// before its contents. Applies the filters, never enters .dbk/, skips sockets, fifos and devices
// with a notice, and reports what it cannot read instead of failing.
//
// The walk uses synchronous calls: an lstat through the thread pool costs about 40 µs of
// main-thread CPU in callbacks and promises, eight times the system call itself, and a scan is
// tens of thousands of them with nothing else to overlap. It yields to the event loop every few
// milliseconds so a storage connection opened before the scan keeps being served.

import { type Dirent, type Stats, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EntryType, FileEntry } from '../format/file-list.js';
import type { Filters } from './filters.js';
import { DBK_DIR } from './preferences.js';

/** What the scan learns of an entry: a file-list entry before its content is read. */
export type ScannedEntry = Omit<FileEntry, 'range' | 'hash'>;

export interface ScanProblem {
  path: string;
  reason: string;
}

export interface ScanResult {
  entries: ScannedEntry[];
  /** not backed up: unreadable, vanished */
  problems: ScanProblem[];
  /** not backed up by design: sockets, fifos, devices */
  skipped: ScanProblem[];
}

const byCodeUnit = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const YIELD_EVERY_MS = 20;

export async function scan(root: string, filters: Filters): Promise<ScanResult> {
  const out: ScanResult = { entries: [], problems: [], skipped: [] };
  // the folders being walked, innermost last, each with the names still to visit
  const stack: Folder[] = [openFolder(root, '', filters, out)];
  let since = performance.now();
  while (stack.length > 0) {
    const folder = stack.at(-1)!;
    const name = folder.names[folder.next++];
    if (name === undefined) {
      stack.pop();
      continue;
    }
    const entry = scanEntry(root, name, out);
    if (entry === undefined) continue;
    out.entries.push(entry);
    if (entry.type === 'dir') stack.push(openFolder(root, name, filters, out));
    if (performance.now() - since > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      since = performance.now();
    }
  }
  return out;
}

interface Folder {
  /** relative paths of the entries to visit, in order */
  names: string[];
  next: number;
}

function openFolder(root: string, rel: string, filters: Filters, out: ScanResult): Folder {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch (e) {
    out.problems.push({ path: rel || '.', reason: (e as Error).message });
    return { names: [], next: 0 };
  }
  dirents.sort(byCodeUnit);
  const names: string[] = [];
  for (const d of dirents) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if ((rel === '' && d.name === DBK_DIR) || !filters.includes(d.isDirectory() ? `${r}/` : r)) continue;
    names.push(r);
  }
  return { names, next: 0 };
}

function scanEntry(root: string, rel: string, out: ScanResult): ScannedEntry | undefined {
  const full = path.join(root, rel);
  try {
    const st = lstatSync(full);
    const type = entryType(st);
    if (!type) {
      out.skipped.push({ path: rel, reason: 'not a regular file, folder or symlink' });
      return undefined;
    }
    const entry: ScannedEntry = { path: rel, type, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: type === 'file' ? st.size : 0, uid: st.uid, gid: st.gid };
    if (type === 'symlink') entry.target = readlinkSync(full);
    return entry;
  } catch (e) {
    out.problems.push({ path: rel, reason: (e as Error).message });
    return undefined;
  }
}

function entryType(st: Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
}
