// Worker thread body of the file writer (see file-writer.ts): carries out each message's jobs in
// order with synchronous calls, reading content from the shared ring, and reports what failed.

import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, ftruncateSync, lchownSync, lstatSync, openSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { osPath } from '../format/names.js';
import { giveOwner, setLinkTimes, setTimes } from '../tree/native-fs.js';
import { RESTORE_TEMP_PREFIX, UNFINISHED_MODE } from '../tree/unfinished-file.js';
import { writeXattrs } from './attributes.js';
import type { FileAttributes, PlacedFile, RingSpan, WriterJob, WriterReport, WriterSetup } from './file-writer.js';

/** O_EXCL: never over what is there, nor a symlink in its place (parent folders are SafeTree's) */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** a folder's attributes are set through a descriptor of the folder itself, never of a symlink's target */
const FOLDER = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const asRoot = process.getuid?.() === 0;
const ring = new Uint8Array((workerData as WriterSetup).ring);

interface Open {
  /** -1 once closed */
  fd: number;
  /** where the next bytes go */
  at: number;
  /** the end of what was written: short of `at` when the file ends in a hole */
  end: number;
  /** the name written to: the target, or a temporary name beside it */
  written: string;
  file: PlacedFile;
}

const open = new Map<number, Open>();

/**
 * A short random name beside the target: appending to the name would overflow a 255-byte name,
 * and O_EXCL never opens a symlink planted under a predictable one.
 */
const tempBeside = (target: string) => path.join(path.dirname(target), `${RESTORE_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);

const view = (s: RingSpan) => ring.subarray(s.offset, s.offset + s.length);

function create(file: PlacedFile): Open {
  const written = file.viaTemp ? tempBeside(file.target) : file.target;
  return { fd: openSync(osPath(written), CREATE, UNFINISHED_MODE), at: 0, end: 0, written, file };
}

/** A block of zeros aligned in the file is not written: it stays a hole, which reads as zeros. */
const HOLE_BLOCK = 4096;
const ZEROS = new Uint8Array(HOLE_BLOCK);

/**
 * Appends `bytes` to the file, leaving out every aligned block of zeros so that a sparse file
 * comes back sparse (content-defined chunks already stored its zeros once): a new file reads as
 * zeros wherever nothing was written. Runs of other blocks go in one write each.
 */
function append(o: Open, bytes: Uint8Array): void {
  const base = o.at;
  let run = 0; // the start of the run of bytes still to write
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(bytes.length, i + HOLE_BLOCK - ((base + i) % HOLE_BLOCK));
    // a block cut by the piece's start or end counts too: the rest of it may be zeros in the next piece
    if (Buffer.compare(bytes.subarray(i, end), ZEROS.subarray(0, end - i)) === 0) {
      writeAt(o, bytes, run, i);
      run = end;
    }
    i = end;
  }
  writeAt(o, bytes, run, bytes.length);
  o.at = base + bytes.length;
}

function writeAt(o: Open, bytes: Uint8Array, from: number, to: number): void {
  if (from === to) return;
  const at = o.at + from;
  for (let done = from; done < to; ) done += writeSync(o.fd, bytes, done, to - done, at + (done - from));
  o.end = o.at + to;
}

/** Owner before mode (chown clears setuid bits), times last; then the name it belongs under. */
function complete(o: Open): void {
  const { file } = o;
  try {
    if (o.end < o.at) ftruncateSync(o.fd, o.at); // a hole at the end: the length is set, not written
    setAttributes(o.fd, file, file.target);
  } finally {
    closeOnce(o);
  }
  if (o.written === file.target) return;
  if (file.replaceFolder && isFolder(file.target)) rmSync(osPath(file.target), { recursive: true });
  renameSync(osPath(o.written), osPath(file.target));
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
    return lstatSync(osPath(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Owner (which clears setuid bits and capabilities), mode, extended attributes (ACLs among them), times. */
function setAttributes(fd: number, a: FileAttributes, target: string): void {
  if (asRoot) ignoreFailure(() => giveOwner(fd, a.uid, a.gid));
  fchmodSync(fd, a.mode);
  for (const message of writeXattrs(fd, a.xattrs, asRoot)) warnings.push({ path: target, message });
  setTimes(fd, a.mtimeS, a.mtimeNs);
}

/** This message's warnings and what it wrote, sent with its report. */
let warnings: WriterReport['warnings'] = [];
let written: WriterReport['written'] = { files: 0, bytes: 0 };

function wrote(o: Open): void {
  written.files++;
  written.bytes += o.at;
}

/** A descriptor is closed once only: its number may be another thread's file a moment later. */
function closeOnce(o: Open): void {
  const fd = o.fd;
  o.fd = -1;
  if (fd !== -1) closeSync(fd);
}

function discard(o: Open): void {
  try {
    closeOnce(o);
  } catch {
    // the file is removed all the same
  }
  try {
    unlinkSync(osPath(o.written));
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
        for (const s of job.content) append(o, view(s));
        complete(o);
      });
      wrote(o);
      return;
    }
    case 'open':
      open.set(job.id, create(job.file));
      return;
    case 'append': {
      const o = open.get(job.id);
      if (!o) return; // failed earlier, and reported then
      guarded(o, () => append(o, view(job.content)));
      return;
    }
    case 'close': {
      const o = open.get(job.id);
      if (!o) return;
      open.delete(job.id);
      if (job.commit) {
        guarded(o, () => complete(o));
        wrote(o);
      } else discard(o);
      return;
    }
    case 'folder': {
      const fd = openSync(osPath(job.target), FOLDER);
      try {
        setAttributes(fd, job.attributes, job.target);
      } finally {
        closeSync(fd);
      }
      return;
    }
    case 'abandon':
      for (const o of open.values()) discard(o);
      open.clear();
      return;
    case 'symlink':
      symlinkSync(osPath(job.linkText), osPath(job.path));
      if (asRoot) ignoreFailure(() => lchownSync(osPath(job.path), job.owner.uid, job.owner.gid));
      try {
        setLinkTimes(job.path, job.owner.mtimeS, job.owner.mtimeNs);
      } catch {
        // not every file system keeps a symlink's own times
      }
      written.files++;
      return;
  }
}

/** The file, link or folder a job writes, for its failure report. */
function pathOf(job: WriterJob): string {
  switch (job.op) {
    case 'whole':
    case 'open':
      return job.file.target;
    case 'symlink':
      return job.path;
    case 'folder':
      return job.target;
    default:
      return open.get(job.id)?.file.target ?? '';
  }
}

parentPort!.on('message', (jobs: WriterJob[]) => {
  warnings = [];
  written = { files: 0, bytes: 0 };
  const report: WriterReport = { written, failures: [], warnings };
  for (const job of jobs) {
    const target = pathOf(job);
    try {
      run(job);
    } catch (e) {
      if (job.op === 'append') open.delete(job.id); // discarded: the rest of it is dropped
      const err = e as NodeJS.ErrnoException;
      report.failures.push({ path: target, message: err.message, ...(err.code ? { code: err.code } : {}) });
    }
  }
  parentPort!.postMessage(report);
});
