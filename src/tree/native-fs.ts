// File system calls Node does not offer, from dbk's small native module (src/native-module.ts):
// times to the nanosecond, fifos and device nodes, extended attributes. Node sets times through a double of seconds (a quarter of a microsecond off, and
// libuv keeps only microseconds) and has no mknod or xattr call. No maintained binding covers the
// three: fs-xattr offers extended attributes by path only, where restore sets them through the
// descriptor it has open (never through a symlink put in its place).
//
// A backup's walk and reader also call it for what Node offers at a cost: an lstat without a
// Stats object, and a file opened, read and closed in one call (see lstatEntry, readStart).
//
// Where the module could not be built, times fall back to Node's (microseconds) and extended
// attributes and special files are not kept; `nativeMissing` says so, for a warning. The walk
// and the reader then use Node's calls.

import { type BigIntStats, closeSync, constants, fchownSync, fstatSync, futimesSync, lstatSync, lutimesSync, openSync, readSync } from 'node:fs';
import { bytesOfName, nameFromBytes, osPath } from '../format/names.js';
import { native } from '../native-module.js';

/** Why extended attributes, special files and nanoseconds are not kept here, or undefined. */
export const nativeMissing = native ? undefined : 'the native module (build/Release/dbk_fs.node) is not built: run npm install';

/** What the walk of a backup records of an entry, from an lstat (a symlink's own). */
export interface EntryStat {
  /** type and permission bits */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeS: number;
  /** 0 to 999,999,999, after mtimeS (which is rounded down, before 1970 too) */
  mtimeNs: number;
  rdev: number;
  /** for a file with more than one name: "device:inode", the same for each */
  linkKey?: string;
}

const statOut = new Float64Array(12);
const NS_PER_S = 1_000_000_000n;

/** An entry's lstat (a symlink's own), `path` as osPath() gives it. */
export function lstatEntry(path: string | Buffer): EntryStat {
  if (!native?.lstat) return entryStatOf(lstatSync(path, { bigint: true }));
  native.lstat(path, statOut);
  const s = statOut;
  const st: EntryStat = { mode: s[0]!, uid: s[2]!, gid: s[3]!, size: s[4]!, mtimeS: s[5]!, mtimeNs: s[6]!, rdev: s[7]! };
  if (s[1]! > 1) st.linkKey = `${u64(s[8]!, s[9]!)}:${u64(s[10]!, s[11]!)}`;
  return st;
}

const u64 = (high: number, low: number) => (BigInt(high) << 32n) | BigInt(low);

function entryStatOf(st: BigIntStats): EntryStat {
  const ns = st.mtimeNs;
  const mtimeS = Number(ns / NS_PER_S) - (ns % NS_PER_S < 0n ? 1 : 0);
  const out: EntryStat = { mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), mtimeS, mtimeNs: Number(ns - BigInt(mtimeS) * NS_PER_S), rdev: Number(st.rdev) };
  if (st.nlink > 1n) out.linkKey = `${st.dev}:${st.ino}`;
  return out;
}

const readOut = new Float64Array(3);
/** not blocking: a fifo put where the walk saw a file would block a plain open until a writer came */
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * Opens a file to back up and reads it once into into[offset, offset + length). Returns the bytes
 * read, and the descriptor to read on and close with closeFile(), unless that read ended the
 * file: it read nothing, or fewer bytes than asked and at least the `expected` size (the size the
 * walk saw). `path` as osPath() gives it.
 *
 * With `xattrs`, it says whether the file has extended attributes to read (readXattrs) through
 * the descriptor, which then stays open: asking costs a system call, where a separate call by
 * path cost a backup's main thread 6 µs a file. Without the native module there are none to keep.
 */
export function readStart(path: string | Buffer, into: Uint8Array, offset: number, length: number, expected: number, xattrs = false): { read: number; fd?: number; xattrs?: true } {
  if (native?.readStart) {
    readOut[2] = UNANSWERED;
    native.readStart(path, into, offset, length, expected, readOut, xattrs);
    const read = readOut[0]!;
    const fd = readOut[1]! < 0 ? undefined : readOut[1]!;
    // a module built before the question was added leaves it unanswered: ask by path, as before
    const hasXattrs = xattrs && (readOut[2] === UNANSWERED || readOut[2] === 1);
    return { read, ...(fd === undefined ? {} : { fd }), ...(hasXattrs ? { xattrs: true } : {}) };
  }
  const fd = openSync(path, READ_FLAGS);
  let read: number;
  try {
    read = readSync(fd, into, offset, length, null);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  if (read > 0 && (read === length || read < expected)) return { read, fd };
  closeSync(fd);
  return { read };
}

const UNANSWERED = -1;

/** Closes a descriptor readStart() left open. */
export function closeFile(fd: number): void {
  if (native?.readStart && native.closeFile) native.closeFile(fd);
  else closeSync(fd);
}

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
