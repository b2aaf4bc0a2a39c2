// File system calls Node does not offer, from dbk's small native module (native/dbk_fs.c, built
// by `npm install` with node-gyp): times to the nanosecond, fifos and device nodes, extended
// attributes. Node sets times through a double of seconds (a quarter of a microsecond off, and
// libuv keeps only microseconds) and has no mknod or xattr call. No maintained binding covers the
// three: fs-xattr offers extended attributes by path only, where restore sets them through the
// descriptor it has open (never through a symlink put in its place).
//
// Where the module could not be built, times fall back to Node's (microseconds) and extended
// attributes and special files are not kept; `nativeMissing` says so, for a warning.

import { fchownSync, fstatSync, futimesSync, lutimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bytesOfName, nameFromBytes, osPath } from '../format/names.js';

interface NativeFs {
  futimens(fd: number, seconds: number, nanoseconds: number): void;
  lutimens(path: string | Buffer, seconds: number, nanoseconds: number): void;
  /** missing from a module built before it was added */
  giveOwner?(fd: number, uid: number, gid: number): void;
  mknod(path: string | Buffer, mode: number, device: number): void;
  xattrs(target: number | string | Buffer): [Buffer, Buffer][];
  setXattr(target: number | string | Buffer, name: Buffer, value: Buffer): void;
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
  userId(name: Buffer): number | undefined;
  groupId(name: Buffer): number | undefined;
}

function load(): NativeFs | undefined {
  const require = createRequire(import.meta.url);
  // from src/tree (the tests) and from dist/src/tree
  for (const candidate of ['../../build/Release/dbk_fs.node', '../../../build/Release/dbk_fs.node']) {
    try {
      return require(candidate) as NativeFs;
    } catch {
      // the next place
    }
  }
  return undefined;
}

const native = load();

/** Why extended attributes, special files and nanoseconds are not kept here, or undefined. */
export const nativeMissing = native ? undefined : 'the native module (build/Release/dbk_fs.node) is not built: run npm install';

/** Sets a file's access and modification times to the nanosecond through its descriptor. */
export function setTimes(fd: number, seconds: number, nanoseconds: number): void {
  if (native) native.futimens(fd, seconds, nanoseconds);
  else futimesSync(fd, seconds + nanoseconds / 1e9, seconds + nanoseconds / 1e9);
}

/**
 * Gives an open file this owner and group, with a chown only where they differ: a file is made
 * with its maker's owner (or a setgid folder's group), and for files owned by the one restoring
 * them the chown was a tenth of the restore's writing.
 */
export function giveOwner(fd: number, uid: number, gid: number): void {
  if (native?.giveOwner) {
    native.giveOwner(fd, uid, gid);
    return;
  }
  const st = fstatSync(fd);
  if (st.uid !== uid || st.gid !== gid) fchownSync(fd, uid, gid);
}

/** The same for a path that is not followed: a symlink's own times. */
export function setLinkTimes(path: string, seconds: number, nanoseconds: number): void {
  if (native) native.lutimens(osPath(path), seconds, nanoseconds);
  else lutimesSync(osPath(path), seconds + nanoseconds / 1e9, seconds + nanoseconds / 1e9);
}

/** Makes a fifo or a device node; `mode` holds the type bits (S_IFIFO, S_IFCHR, S_IFBLK). */
export function makeNode(path: string, mode: number, device: number): void {
  if (!native) throw new Error(`cannot make a special file: ${nativeMissing}`);
  native.mknod(osPath(path), mode, device);
}

/** A file's extended attributes (by descriptor, or by a path that is not followed); none where the file system keeps none. */
export function readXattrs(target: number | string): { name: string; value: Buffer }[] {
  if (!native) return [];
  const raw = native.xattrs(typeof target === 'number' ? target : osPath(target));
  return raw.length === 0 ? [] : raw.map(([name, value]) => ({ name: nameFromBytes(name), value }));
}

export function writeXattr(target: number | string, name: string, value: Buffer): void {
  if (!native) throw new Error(`cannot set extended attributes: ${nativeMissing}`);
  native.setXattr(typeof target === 'number' ? target : osPath(target), bytesOfName(name), value);
}

/**
 * Names of user and group ids and back, as this system's accounts (NSS) have them; each asked
 * once. Without the native module there are no names: ids are kept and used as they are.
 */
export class Accounts {
  private readonly userNames = new Map<number, string | undefined>();
  private readonly groupNames = new Map<number, string | undefined>();
  private readonly userIds = new Map<string, number | undefined>();
  private readonly groupIds = new Map<string, number | undefined>();

  userName(uid: number): string | undefined {
    return cached(this.userNames, uid, () => native?.userName(uid));
  }

  groupName(gid: number): string | undefined {
    return cached(this.groupNames, gid, () => native?.groupName(gid));
  }

  userId(name: string): number | undefined {
    return cached(this.userIds, name, () => native?.userId(Buffer.from(name)));
  }

  groupId(name: string): number | undefined {
    return cached(this.groupIds, name, () => native?.groupId(Buffer.from(name)));
  }
}

function cached<K, V>(map: Map<K, V>, key: K, look: () => V): V {
  if (map.has(key)) return map.get(key) as V;
  const v = look();
  map.set(key, v);
  return v;
}
