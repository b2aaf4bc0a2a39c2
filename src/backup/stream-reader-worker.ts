// Worker thread body of the stream reader (see stream-reader.ts): reads each file with
// synchronous calls straight into the shared ring, finds the cuts there, and posts each chunk's
// place in the ring after the reports of the files finished before it. A file that lies wholly
// within one chunk is hashed with that chunk, where its place in the chunk goes (most files of a
// backup, all but those a cut falls in or that take more than one read); the others are hashed
// here as they are read. A chunk is contiguous in the ring: when the one under way reaches the
// end, its bytes so far are copied to the start. The reader waits when the ring is full of bytes
// the consumer has not given back.

import { createHash, type Hash, hash } from 'node:crypto';
import { readSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CutFinder } from '../chunking/fastcdc.js';
import { chunkAndFileHashes } from '../crypto/chunk-hashes.js';
import { osPath } from '../format/names.js';
import { closeFile, readStart, readXattrs } from '../tree/native-fs.js';
import { type FileFed, FREED, SENT, STOP, type StreamCommand, type StreamMessage, type StreamReaderInput } from './stream-reader.js';

const READ_SIZE = 4 << 20;
/** file results are posted with the next chunk, or on their own when this many wait */
const FILES_PER_MESSAGE = 512;
const U32 = 2 ** 32;

class Stopped extends Error {}

const input = workerData as StreamReaderInput;
const control = new Int32Array(input.control);
const ring = new Uint8Array(input.ring);
const size = ring.length;
const finder = new CutFinder(input.chunkSizes, input.chunkSeed);
/** stream offsets: where the chunk under way starts, and where the next byte goes */
let chunkStart = 0;
let produced = 0;
let files: FileFed[] = [];
/** the files within the chunk under way, to hash with it: pairs of start (from the chunk's) and length */
let filesInChunk: number[] = [];

function post(m: Omit<StreamMessage, 'files'>): void {
  const message: StreamMessage = { ...m, files };
  files = [];
  parentPort!.postMessage(message);
}

/**
 * Waits until at least `bytes` more fit in the ring beside what the consumer still holds;
 * returns how many fit.
 */
function waitForRoom(bytes: number): number {
  for (;;) {
    if (Atomics.load(control, STOP)) throw new Stopped();
    const freed = Atomics.load(control, FREED);
    const held = ((produced % U32) - (freed >>> 0) + U32) % U32;
    if (held + bytes <= size) return size - held;
    Atomics.wait(control, FREED, freed);
  }
}

/** The chunk under way ends at stream offset `end`. */
function emit(end: number): void {
  const offset = chunkStart % size;
  const length = end - chunkStart;
  const files = Uint32Array.from(filesInChunk);
  filesInChunk = [];
  const hashes = input.hashKey && chunkAndFileHashes(input.hashKey, ring.subarray(offset, offset + length), files);
  post({ chunk: { offset, length, end, files, ...(hashes ? { hashes } : {}) } });
  chunkStart = end;
}

/** The chunk under way reached the end of the ring: its bytes move to the start, to stay contiguous. */
function wrap(): void {
  const pending = produced - chunkStart;
  waitForRoom(pending);
  ring.copyWithin(0, chunkStart % size, (chunkStart % size) + pending);
  chunkStart = produced;
  produced += pending;
}

/**
 * Reads one file to its end. A read shorter than asked at the size the scan saw is the end of a
 * regular file, so a small file takes one call (readStart: open, read, close). A file read in
 * more than one piece is hashed as it is read. Its extended attributes, where the walk left them
 * to the reader, are read through the same descriptor.
 */
function readFile(file: string, expected: number): FileFed {
  let fed = 0;
  let fd: number | undefined;
  let hasXattrs: boolean | undefined;
  let sha: Hash | undefined;
  try {
    let whole: FileFed | undefined;
    for (let first = true; ; first = false) {
      if (produced % size === 0 && produced > chunkStart) wrap();
      const at = produced % size;
      // whatever fits now: a consumer may hold its chunks until it sees the next one
      const want = Math.min(READ_SIZE, size - at, waitForRoom(1));
      let n: number;
      if (first) ({ read: n, fd, xattrs: hasXattrs } = readStart(osPath(file), ring, at, want, expected, input.xattrs));
      else n = readSync(fd!, ring, at, want, null);
      if (n === 0) break;
      const bytes = ring.subarray(at, at + n);
      const ended = fd === undefined || (n < want && fed + n >= expected);
      const start = produced;
      if (!(first && ended)) (sha ??= createHash('sha256')).update(bytes);
      cut(at, at + n);
      fed += n;
      if (first && ended) whole = readWhole(start, bytes);
      if (ended) break;
    }
    const read = whole ?? { fed, sha256: sha ? sha.digest('hex') : EMPTY_SHA256 };
    if (hasXattrs) addXattrs(read, fd ?? file);
    return read;
  } catch (e) {
    if (e instanceof Stopped) throw e;
    return { fed, error: (e as Error).message };
  } finally {
    if (fd !== undefined) closeFile(fd);
  }
}

/**
 * A file read in one piece, at stream offset `start`, cut already: hashed with the chunk under way
 * if it lies within it, else here (a cut fell within it, or at its end), from the ring still.
 */
function readWhole(start: number, bytes: Uint8Array): FileFed {
  if (start < chunkStart) return { fed: bytes.length, sha256: hash('sha256', bytes, 'hex') };
  filesInChunk.push(start - chunkStart, bytes.length);
  return { fed: bytes.length };
}

/** A file whose extended attributes cannot be read is backed up without them, and that is said. */
function addXattrs(read: FileFed, target: number | string): void {
  try {
    const xattrs = readXattrs(target);
    if (xattrs.length > 0) read.xattrs = xattrs;
  } catch (e) {
    read.xattrsError = (e as Error).message;
  }
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** Finds the cuts in ring[from, to), the bytes just read, and emits the chunks they end. */
function cut(from: number, to: number): void {
  const base = produced - from; // stream offset = ring index + base
  for (let i = from; i < to; ) {
    const c = finder.next(ring, i, to);
    if (c < 0) break;
    emit(c + base);
    i = c;
  }
  produced += to - from;
}

/**
 * The next command from the main thread. Waiting for one, the reader first posts the results of
 * the files it has read, so that the main thread knows them although no chunk ended meanwhile.
 */
function nextCommand(): StreamCommand {
  for (;;) {
    const sent = Atomics.load(control, SENT);
    const m = receiveMessageOnPort(input.commands);
    if (m) return m.message as StreamCommand;
    if (files.length > 0) post({});
    if (Atomics.load(control, STOP)) throw new Stopped();
    Atomics.wait(control, SENT, sent);
  }
}

/** Ends the chunk under way where the stream stands. */
function cutHere(): void {
  if (produced === chunkStart) return;
  finder.cutAt(0);
  emit(produced);
}

try {
  for (let c = nextCommand(); !('end' in c); c = nextCommand()) {
    if ('cut' in c) {
      cutHere();
      continue;
    }
    for (const f of c.files) {
      const read = readFile(path.join(input.root, f.path), f.size); // may post, replacing `files`
      files.push(read);
      if (files.length >= FILES_PER_MESSAGE) post({});
    }
  }
  cutHere();
  post({ end: true });
} catch (e) {
  if (!(e instanceof Stopped)) throw e;
}
