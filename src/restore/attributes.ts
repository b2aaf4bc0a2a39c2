// What restore gives each file, folder and special file besides its content: mode, times to the
// nanosecond, extended attributes unless told not to, and, as root, its owner. The owner is
// found by the names the backup recorded where this system has them (a uid means little on
// another machine), by the recorded ids otherwise or with -numeric-owner, as borg and tar do.

import type { ExtendedAttribute, FileEntry } from '../format/file-list.js';
import { Accounts, writeXattr } from '../tree/native-fs.js';
import type { FileAttributes } from './file-writer.js';

export interface AttributeChoices {
  /** set extended attributes (default true) */
  xattrs?: boolean;
  /** give owners by the recorded ids, not by name */
  numericOwner?: boolean;
}

export class RestoredAttributes {
  private readonly accounts = new Accounts();

  constructor(private readonly choices: AttributeChoices) {}

  of(e: FileEntry): FileAttributes {
    const a: FileAttributes = { mode: e.mode, uid: this.uid(e), gid: this.gid(e), mtimeS: e.mtimeS, mtimeNs: e.mtimeNs };
    if (e.xattrs && this.choices.xattrs !== false) a.xattrs = e.xattrs;
    return a;
  }

  private uid(e: FileEntry): number {
    if (this.choices.numericOwner || e.user === undefined) return e.uid;
    return this.accounts.userId(e.user) ?? e.uid;
  }

  private gid(e: FileEntry): number {
    if (this.choices.numericOwner || e.group === undefined) return e.gid;
    return this.accounts.groupId(e.group) ?? e.gid;
  }
}

/** Namespaces only root may set: a restore by another user leaves them out, as it leaves out owners. */
const PRIVILEGED_XATTR = /^(security|trusted)\./;

/**
 * Sets extended attributes on a descriptor (or a path, not followed); returns a line for each one
 * the target refused (a file system without them, say): the file is restored all the same.
 */
export function writeXattrs(target: number | string, xattrs: readonly ExtendedAttribute[] | undefined, asRoot: boolean): string[] {
  const refused: string[] = [];
  for (const x of xattrs ?? []) {
    if (!asRoot && PRIVILEGED_XATTR.test(x.name)) continue;
    try {
      writeXattr(target, x.name, Buffer.from(x.value));
    } catch (e) {
      refused.push(`extended attribute ${x.name} not set: ${(e as Error).message}`);
    }
  }
  return refused;
}
