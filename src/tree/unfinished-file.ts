// What a restore killed mid-way leaves behind, and how the next one knows it.
//   - The writer creates each file with the sticky bit and owner read-write (a mode no file of a
//     user has in practice, and which means nothing for a regular file on Linux) and sets the
//     file's own mode only once all of it is written. The next restore replaces a file so marked,
//     as it would replace nothing, instead of keeping it as a user's changed file.
//   - A file too long to write in one go is written under a temporary name beside its own. While
//     a restore runs, .dbk/restore-unfinished says so; a restore that finds it there (its
//     predecessor did not finish) first removes the marked temporary files from the folder.

import type { Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { nameFromBytes, osPath } from '../format/names.js';
import { DBK_DIR } from '../storage/preferences.js';

export const UNFINISHED_MODE = 0o1600;

/**
 * A file a restore began and did not finish (even when all its content is there: the mode is set
 * last). Not when the file restored there should have this mode itself: then it may be finished
 * and since changed by the user.
 */
export const isUnfinishedRestore = (st: Stats, restoring?: { mode: number }): boolean =>
  st.isFile() && (st.mode & 0o7777) === UNFINISHED_MODE && (restoring === undefined || (restoring.mode & 0o7777) !== UNFINISHED_MODE);

/** Temporary names of the restore's file writer: the prefix and 16 random hex digits. */
export const RESTORE_TEMP_PREFIX = '.dbk-restore-';
const RESTORE_TEMP = /^\.dbk-restore-[0-9a-f]{16}$/;

const markerOf = (repoDir: string) => path.join(repoDir, DBK_DIR, 'restore-unfinished');

/** Whether a restore into this repository began and did not finish (its files may be half written). */
export async function restoreUnfinished(repoDir: string): Promise<boolean> {
  return fs.stat(markerOf(repoDir)).then(
    () => true,
    () => false,
  );
}

/**
 * What an unfinished restore may have left half written: a file in the marking mode, or one of
 * its temporary files. A backup skips them while the restore is unfinished.
 */
export const isRestoreLeftover = (e: { path: string; type: string; mode: number }): boolean =>
  e.type === 'file' && ((e.mode & 0o7777) === UNFINISHED_MODE || RESTORE_TEMP.test(e.path.slice(e.path.lastIndexOf('/') + 1)));

/** Before a restore writes anything: clears what an interrupted one left, then marks this one as under way. */
export async function beginRestore(repoDir: string, rootDir: string): Promise<void> {
  if (await restoreUnfinished(repoDir)) await removeTemporaryFiles(rootDir, true);
  await fs.writeFile(markerOf(repoDir), '');
}

/** After a restore has written everything. */
export async function endRestore(repoDir: string): Promise<void> {
  await fs.rm(markerOf(repoDir), { force: true });
}

async function removeTemporaryFiles(dir: string, top: boolean): Promise<void> {
  const entries = await fs.readdir(osPath(dir), { withFileTypes: true, encoding: 'buffer' }).catch(() => []);
  for (const d of entries) {
    const name = nameFromBytes(d.name);
    const abs = path.join(dir, name);
    if (d.isDirectory()) {
      if (!(top && name === DBK_DIR)) await removeTemporaryFiles(abs, false);
    } else if (d.isFile() && RESTORE_TEMP.test(name) && isUnfinishedRestore(await fs.lstat(osPath(abs)))) {
      await fs.rm(osPath(abs), { force: true });
    }
  }
}
