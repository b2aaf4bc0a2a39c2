// Worker thread body of the file writer (see file-writer.ts): carries out each message's jobs in
// order with synchronous calls and reports the bytes it is done with and what failed.

import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lstatSync, lutimesSync, openSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { PlacedFile, RingSpan, WriterJob, WriterReport } from './file-writer.js';

/** O_EXCL: never through a symlink, never over what is there */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const asRoot = process.getuid?.() === 0;

interface Open {
  fd: number;
  /** the name written to: the target, or a temporary name beside it */
  written: string;
  file: PlacedFile;
}

const open = new Map<number, Open>();
const ring = new Uint8Array(workerData as SharedArrayBuffer);

/**
 * A short random name beside the target: appending to the name would overflow a 255-byte name,
 * and O_EXCL never opens a symlink planted under a predictable one.
 */
const tempBeside = (target: string) => path.join(path.dirname(target), `.dbk-restore-${randomBytes(8).toString('hex')}`);

function create(file: PlacedFile): Open {
  const written = file.viaTemp ? tempBeside(file.target) : file.target;
  return { fd: openSync(written, CREATE, 0o600), written, file };
}

function writeAll(fd: number, content: readonly RingSpan[]): void {
  for (const { offset, length } of content) {
    for (let done = 0; done < length; ) done += writeSync(fd, ring, offset + done, length - done);
  }
}

/** Owner before mode (chown clears setuid bits), times last; then the name it belongs under. */
function complete(o: Open): void {
  const { fd, file } = o;
  try {
    if (asRoot) {
      try {
        fchownSync(fd, file.uid, file.gid);
      } catch {
        // an owner this system cannot have: the file stays root's
      }
    }
    fchmodSync(fd, file.mode);
    futimesSync(fd, file.mtimeMs / 1000, file.mtimeMs / 1000);
  } finally {
    closeSync(fd);
  }
  if (o.written === file.target) return;
  if (file.replaceFolder && isFolder(file.target)) rmSync(file.target, { recursive: true });
  renameSync(o.written, file.target);
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
    // never created, or gone
  }
}

function run(job: WriterJob): void {
  switch (job.op) {
    case 'whole': {
      const o = create(job.file);
      try {
        writeAll(o.fd, job.content);
        complete(o);
      } catch (e) {
        discard(o);
        throw e;
      }
      return;
    }
    case 'open':
      open.set(job.id, create(job.file));
      return;
    case 'append': {
      const o = open.get(job.id);
      if (!o) return; // failed earlier, reported then
      try {
        writeAll(o.fd, job.content);
      } catch (e) {
        open.delete(job.id);
        discard(o);
        throw e;
      }
      return;
    }
    case 'close': {
      const o = open.get(job.id);
      if (!o) return;
      open.delete(job.id);
      if (!job.commit) return discard(o);
      try {
        complete(o);
      } catch (e) {
        discard(o);
        throw e;
      }
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
      const err = e as NodeJS.ErrnoException;
      report.failures.push({ id: job.id, message: err.message, ...(err.code ? { code: err.code } : {}) });
    }
  }
  parentPort!.postMessage(report);
});
