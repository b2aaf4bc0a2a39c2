// Walks the repository in backup order: depth first, names sorted by code unit, a folder just
// before its contents. Applies the filters, never enters .dbk/, skips sockets, fifos and devices
// with a notice, and reports what it cannot read instead of failing.

import type { Dirent, Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
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

export async function scan(root: string, filters: Filters): Promise<ScanResult> {
  const result: ScanResult = { entries: [], problems: [], skipped: [] };
  await walk(root, '', filters, result);
  return result;
}

async function walk(root: string, rel: string, filters: Filters, out: ScanResult): Promise<void> {
  let dirents: Dirent[];
  try {
    dirents = await fs.readdir(path.join(root, rel), { withFileTypes: true });
  } catch (e) {
    out.problems.push({ path: rel || '.', reason: (e as Error).message });
    return;
  }
  dirents.sort(byCodeUnit);
  const children = dirents
    .map((d) => ({ d, rel: rel === '' ? d.name : `${rel}/${d.name}` }))
    .filter(({ d, rel: r }) => !(rel === '' && d.name === DBK_DIR) && filters.includes(d.isDirectory() ? `${r}/` : r));
  const stats = await Promise.all(children.map(({ rel: r }) => fs.lstat(path.join(root, r)).catch((e: Error) => e)));
  for (const [i, { rel: r }] of children.entries()) {
    const st = stats[i]!;
    if (st instanceof Error) {
      out.problems.push({ path: r, reason: st.message });
      continue;
    }
    const type = entryType(st);
    if (!type) {
      out.skipped.push({ path: r, reason: 'not a regular file, folder or symlink' });
      continue;
    }
    const entry: ScannedEntry = { path: r, type, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: type === 'file' ? st.size : 0, uid: st.uid, gid: st.gid };
    if (type === 'symlink') {
      try {
        entry.target = await fs.readlink(path.join(root, r));
      } catch (e) {
        out.problems.push({ path: r, reason: (e as Error).message });
        continue;
      }
    }
    out.entries.push(entry);
    if (type === 'dir') await walk(root, r, filters, out);
  }
}

function entryType(st: Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
}
