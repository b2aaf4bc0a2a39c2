// Files of one hard-link group come back as links of one another, as they were: the first name of
// the group that the restore writes (or finds already right) is written, and each other name is
// made a link to it once it is in place. A name whose recorded content differs from its leader's
// (a damaged or crafted list) is written on its own instead.

import * as fs from 'node:fs/promises';
import type { FileEntry } from '../format/file-list.js';
import { osPath } from '../format/names.js';

/**
 * Which files are linked rather than written, decided as the list goes by: the first name of a
 * group that the restore writes (or finds already right) leads it, and a later name with the same
 * content becomes a link to it. A group is known by the index in the list of its first entry.
 */
export class LinkLeaders {
  private readonly firstPlaced = new Map<number, FileEntry>();

  /** `groups`: the indices later names point to (found in a first pass over the list) */
  constructor(private readonly groups: ReadonlySet<number>) {}

  /**
   * `e`, at `index` in the revision's list, is written or found right: the file it is to be
   * linked to, or undefined when it is a group's leader or in no group.
   */
  leaderOf(e: FileEntry, index: number): FileEntry | undefined {
    const group = e.linkOf ?? index;
    const first = this.firstPlaced.get(group);
    if (!first) {
      if (this.groups.has(group)) this.firstPlaced.set(group, e);
      return undefined;
    }
    return sameContent(first, e) ? first : undefined;
  }
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
