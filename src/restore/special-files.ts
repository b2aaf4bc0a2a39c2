// Fifos and device nodes are made again (a device only by root, as mknod allows), with their
// owner, mode, extended attributes and times. They are made on the main thread, after the files:
// there are few of them, and none has content.

import { constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { EntryType, FileEntry } from '../format/file-list.js';
import { osPath } from '../format/names.js';
import { makeNode, setLinkTimes } from '../tree/native-fs.js';
import { writeXattrs } from './attributes.js';
import type { FileAttributes } from './file-writer.js';

const TYPE_BITS: Partial<Record<EntryType, number>> = { fifo: constants.S_IFIFO, chardev: constants.S_IFCHR, blockdev: constants.S_IFBLK };

export const isSpecial = (e: FileEntry) => TYPE_BITS[e.type] !== undefined;

/** What is at `abs` is already this special file. */
export async function isSameSpecial(abs: string, e: FileEntry): Promise<boolean> {
  const st = await fs.lstat(osPath(abs)).catch(() => undefined);
  if (!st || (st.mode & constants.S_IFMT) !== TYPE_BITS[e.type]) return false;
  return e.type === 'fifo' || st.rdev === e.rdev;
}

/** Makes the special file at `abs` (nothing is there) and gives it its attributes; returns warnings. */
export async function makeSpecial(abs: string, e: FileEntry, a: FileAttributes, asRoot: boolean): Promise<string[]> {
  if (e.type !== 'fifo' && !asRoot) throw new Error('a device node can be made by root only');
  makeNode(abs, TYPE_BITS[e.type]! | a.mode, e.rdev ?? 0);
  const p = osPath(abs);
  if (asRoot) await fs.lchown(p, a.uid, a.gid).catch(() => {});
  await fs.chmod(p, a.mode); // mknod's mode is cut by the umask
  const refused = writeXattrs(abs, a.xattrs, asRoot);
  setLinkTimes(abs, a.mtimeS, a.mtimeNs);
  return refused;
}
