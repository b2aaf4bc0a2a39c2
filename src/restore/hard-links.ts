// Files of one hard-link group come back as links of one another, as they were: the first name of
// the group that the restore writes (or finds already right) is written, and each other name is
// made a link to it once it is in place. A name whose recorded content differs from its leader's
// (a damaged or crafted list) is written on its own instead.

import * as fs from 'node:fs/promises';
import type { FileEntry } from '../format/file-list.js';
import { osPath } from '../format/names.js';

/**
 * For each file to be linked rather than written, the file it is linked to. `placed` holds the
 * files this restore writes or found unchanged, in the order of `all` (the revision's list).
 */
export function linkLeaders(all: readonly FileEntry[], placed: ReadonlySet<FileEntry>): Map<FileEntry, FileEntry> {
  // a group is known by the index of its first entry in the list
  const firstPlaced = new Map<number, FileEntry>();
  const leaders = new Map<FileEntry, FileEntry>();
  for (const [i, e] of all.entries()) {
    if (e.type !== 'file' || !placed.has(e)) continue;
    const group = e.linkOf ?? i;
    const first = firstPlaced.get(group);
    if (!first) firstPlaced.set(group, e);
    else if (sameContent(first, e)) leaders.set(e, first);
  }
  return leaders;
}

const sameContent = (a: FileEntry, b: FileEntry) => a.size === b.size && a.hash !== undefined && b.hash !== undefined && a.hash.equals(b.hash);

/** Makes `abs` a link to `leaderAbs`, replacing what is there when `replace` (restore's overwrite). */
export async function makeLink(leaderAbs: string, abs: string, replace: boolean): Promise<void> {
  if (replace) {
    const st = await fs.lstat(osPath(abs)).catch(() => undefined);
    if (st) await fs.rm(osPath(abs), { recursive: st.isDirectory() });
  }
  await fs.link(osPath(leaderAbs), osPath(abs));
}
