// What restore gives each file, folder and special file besides its content: mode, times to the
// nanosecond, extended attributes unless told not to, and, as root, its owner. The owner is
// found by the names the backup recorded where this system has them (a uid means little on
// another machine), by the recorded ids otherwise or with -numeric-owner, as borg and tar do.

import type { FileEntry } from '../format/file-list.js';
import { Accounts } from '../tree/native-fs.js';
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
