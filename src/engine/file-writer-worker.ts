// Worker thread body of the file writer (see file-writer.ts): carries out each message's jobs in
// order with synchronous calls, reading content from the shared ring, and reports what failed.

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, lstatSync, lutimesSync, openSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { PlacedFile, RingSpan, WriterJob, WriterReport, WriterSetup } from './file-writer.js';

/** O_EXCL: never through a symlink, never over what is there */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const asRoot = process.getuid?.() === 0;
const ring = new Uint8Array((workerData as WriterSetup).ring);

interface Open {
  fd: number;
  /** the name written to: the target, or a temporary name beside it */
  written: string;
  file: PlacedFile;
}

const open = new Map<number, Open>();

/**
 * A short random name beside the target: appending to the name would overflow a 255-byte name,
 * and O_EXCL never opens a symlink planted under a predictable one.
 */
const tempBeside = (target: string) => path.join(path.dirname(target), `.dbk-restore-${randomBytes(8).toString('hex')}`);

const view = (s: RingSpan) => ring.subarray(s.offset, s.offset + s.length);

function create(file: PlacedFile): Open {
  const written = file.viaTemp ? tempBeside(file.target) : file.target;
  return { fd: openSync(written, CREATE, 0o600), written, file };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Owner before mode (chown clears setuid bits), times last; then the name it belongs under. */
function complete(o: Open): void {
  const { fd, file } = o;
  try {
    if (asRoot) ignoreFailure(() => fchownSync(fd, file.uid, file.gid));
    fchmodSync(fd, file.mode);
    futimesSync(fd, file.mtimeMs / 1000, file.mtimeMs / 1000);
  } finally {
    closeSync(fd);
  }
  if (o.written === file.target) return;
  if (file.replaceFolder && isFolder(file.target)) rmSync(file.target, { recursive: true });
  renameSync(o.written, file.target);
}

/** For an owner this system cannot have: the file stays root's. */
function ignoreFailure(f: () => void): void {
  try {
    f();
  } catch {
    // as said
  }
}

function isFolder(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function discard(o: Open): void {
  try {
    closeSync(o.fd);
  } catch {
    // closed already
  }
  try {
    unlinkSync(o.written);
  } catch {
    // gone already
  }
}

/** Runs `step` on an open file; a failure removes what was written of it. */
function guarded(o: Open, step: () => void): void {
  try {
    step();
  } catch (e) {
    discard(o);
    throw e;
  }
}

function run(job: WriterJob): void {
  switch (job.op) {
    case 'whole': {
      const o = create(job.file);
      guarded(o, () => {
        for (const s of job.content) writeAll(o.fd, view(s));
        complete(o);
      });
      return;
    }
    case 'open':
      open.set(job.id, create(job.file));
      return;
    case 'append': {
      const o = open.get(job.id);
      if (!o) return; // failed earlier, and reported then
      guarded(o, () => writeAll(o.fd, view(job.content)));
      return;
    }
    case 'close': {
      const o = open.get(job.id);
      if (!o) return;
      open.delete(job.id);
      if (!job.commit) return discard(o);
      guarded(o, () => complete(o));
      return;
    }
    case 'folder': {
      const { uid, gid, mode, mtimeMs } = job.attributes;
      if (asRoot) ignoreFailure(() => lchownSync(job.target, uid, gid));
      chmodSync(job.target, mode);
      utimesSync(job.target, mtimeMs / 1000, mtimeMs / 1000);
      return;
    }
    case 'symlink':
      symlinkSync(job.link, job.target);
      try {
        lutimesSync(job.target, job.mtimeMs / 1000, job.mtimeMs / 1000);
      } catch {
        // not every file system keeps a symlink's own times
      }
      return;
  }
}

parentPort!.on('message', (jobs: WriterJob[]) => {
  const report: WriterReport = { failures: [] };
  for (const job of jobs) {
    try {
      run(job);
    } catch (e) {
      if (job.op === 'append') open.delete(job.id); // discarded: the rest of it is dropped
      const err = e as NodeJS.ErrnoException;
      report.failures.push({ id: job.id, message: err.message, ...(err.code ? { code: err.code } : {}) });
    }
  }
  parentPort!.postMessage(report);
});
