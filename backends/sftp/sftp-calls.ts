// The SFTP requests the backend uses, as promises over ssh2's callbacks, plus the two compound
// steps every server needs the same way: creating a folder with its parents, and moving a file to a
// name only if that name is free.

import type { SFTPWrapper, Stats } from 'ssh2';
import ssh2 from 'ssh2';
import { alreadyExists, DbkError, notFound } from '../../src/errors.js';

export const { STATUS_CODE } = ssh2.utils.sftp;

/** Bytes per READ/WRITE request (OpenSSH accepts up to 256 KiB), and requests kept in flight per file. */
const PIECE = 256 * 1024;
const PIECES_IN_FLIGHT = 8;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export type Kind = 'file' | 'dir' | 'other';

export const kindOf = (mode: number): Kind => ((mode & S_IFMT) === S_IFDIR ? 'dir' : (mode & S_IFMT) === S_IFREG ? 'file' : 'other');

/** The SFTP status code of a failed request, or undefined for errors of the connection itself. */
export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

type Callback<T> = (err: Error | null | undefined, value: T) => void;

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

export const stat = (sftp: SFTPWrapper, path: string) => call<Stats>((cb) => sftp.stat(path, cb));
export const readdir = (sftp: SFTPWrapper, path: string) => call<{ filename: string; attrs: { mode: number; size: number } }[]>((cb) => sftp.readdir(path, cb));
export const unlink = (sftp: SFTPWrapper, path: string) => call<void>((cb) => sftp.unlink(path, (err) => cb(err, undefined)));
export const open = (sftp: SFTPWrapper, path: string, flags: 'r' | 'wx') => call<Buffer>((cb) => sftp.open(path, flags, cb));
export const close = (sftp: SFTPWrapper, handle: Buffer) => call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined)));
export const fstat = (sftp: SFTPWrapper, handle: Buffer) => call<Stats>((cb) => sftp.fstat(handle, cb));

/** Flushes a file to the server's disk (fsync@openssh.com); false when the server cannot. */
export async function fsync(sftp: SFTPWrapper, handle: Buffer): Promise<boolean> {
  try {
    await call<void>((cb) => sftp.ext_openssh_fsync(handle, (err) => cb(err, undefined)));
    return true;
  } catch (e) {
    if (statusOf(e) === undefined && /does not support/.test((e as Error).message)) return false;
    throw e;
  }
}

/**
 * Makes the names in a folder durable on the server's disk: OpenSSH opens a folder for reading as
 * a file and fsync@openssh.com flushes it. False when the server cannot (it then never will).
 */
export async function syncFolder(sftp: SFTPWrapper, dir: string): Promise<boolean> {
  let handle: Buffer;
  try {
    handle = await open(sftp, dir, 'r');
  } catch (e) {
    if (statusOf(e) === STATUS_CODE.FAILURE || statusOf(e) === STATUS_CODE.PERMISSION_DENIED || statusOf(e) === STATUS_CODE.OP_UNSUPPORTED) return false;
    throw e;
  }
  try {
    return await fsync(sftp, handle);
  } finally {
    void close(sftp, handle).catch(() => {});
  }
}

/** Stat that answers undefined for a missing path. */
export async function statIfExists(sftp: SFTPWrapper, path: string): Promise<Stats | undefined> {
  try {
    return await stat(sftp, path);
  } catch (e) {
    if (statusOf(e) === STATUS_CODE.NO_SUCH_FILE) return undefined;
    throw e;
  }
}

/** Runs `step(offset, length)` over `size` bytes in pieces, several at a time. */
async function inPieces(size: number, step: (offset: number, length: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < size) {
      const offset = next;
      next += PIECE;
      await step(offset, Math.min(PIECE, size - offset));
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(PIECES_IN_FLIGHT, Math.ceil(size / PIECE)) }, worker));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

export function writeAll(sftp: SFTPWrapper, handle: Buffer, data: Buffer): Promise<void> {
  return inPieces(data.length, (offset, length) => call<void>((cb) => sftp.write(handle, data, offset, length, offset, (err) => cb(err, undefined))));
}

/** Reads `size` bytes from an open file; a server may answer a READ with fewer bytes than asked. */
export async function readAll(sftp: SFTPWrapper, handle: Buffer, size: number, path: string): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  await inPieces(size, async (offset, length) => {
    for (let done = 0; done < length; ) {
      const n = await call<number>((cb) => sftp.read(handle, out, offset + done, length - done, offset + done, cb));
      if (n === 0) throw new DbkError('TRANSIENT', `${path}: the file became shorter while it was read`);
      done += n;
    }
  });
  return out;
}

export const parentOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '');

/** Creates a folder and its missing parents; an existing folder is fine. */
export async function mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
  if (dir === '' || dir === '/' || dir === '.') return;
  const mkdir = () => call<void>((cb) => sftp.mkdir(dir, (err) => cb(err, undefined)));
  try {
    return await mkdir();
  } catch (e) {
    // SFTP v3 reports an existing folder only as FAILURE: look
    const st = await statIfExists(sftp, dir);
    if (st && kindOf(st.mode) === 'dir') return;
    if (st || statusOf(e) !== STATUS_CODE.NO_SUCH_FILE) throw e;
  }
  await mkdirs(sftp, parentOf(dir));
  try {
    await mkdir();
  } catch (e) {
    const st = await statIfExists(sftp, dir); // made meanwhile by a concurrent call
    if (!st || kindOf(st.mode) !== 'dir') throw e;
  }
}

/**
 * Moves `from` to `to`, creating `to`'s folder, unless `to` exists. The standard SFTP v3 RENAME
 * fails when the target exists (OpenSSH implements it with link(), so the check is atomic); the
 * posix-rename@openssh.com extension would overwrite, and is never used here.
 */
export async function renameNoOverwrite(sftp: SFTPWrapper, from: string, to: string, names: { from: string; to: string }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call<void>((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
    } catch (e) {
      if (await statIfExists(sftp, to)) throw alreadyExists(names.to, e);
      if (statusOf(e) !== STATUS_CODE.NO_SUCH_FILE || attempt > 1) throw e;
      if (!(await statIfExists(sftp, from))) throw notFound(names.from, e);
      await mkdirs(sftp, parentOf(to));
    }
  }
}
