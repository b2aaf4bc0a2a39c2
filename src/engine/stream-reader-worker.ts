// Worker thread body of the stream reader (see stream-reader.ts): reads each file with
// synchronous calls into one reused buffer, feeds it to the chunker, and posts every chunk,
// transferring its memory, after the reports of the files finished before it. It waits on the
// shared credit when the consumer is a window behind.

import { closeSync, constants, openSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Chunker } from '../chunking/fastcdc.js';
import type { FileFed } from './stream-hasher.js';
import { CREDIT, STOP, type StreamMessage, type StreamReaderInput } from './stream-reader.js';

const READ_SIZE = 4 << 20;
/** a fifo put where the scan saw a file would block a plain open until a writer came */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
/** file results are posted with the next chunk, or on their own when this many wait */
const FILES_PER_MESSAGE = 512;

class Stopped extends Error {}

const input = workerData as StreamReaderInput;
const shared = new Int32Array(input.control);
const chunker = new Chunker(input.chunkSizes, input.chunkSeed);
const buffer = Buffer.allocUnsafeSlow(READ_SIZE);
let files: FileFed[] = [];

function post(m: Omit<StreamMessage, 'files'>): void {
  const message: StreamMessage = { ...m, files };
  files = [];
  parentPort!.postMessage(message, m.chunk ? [m.chunk.buffer as ArrayBuffer] : []);
}

function send(chunk: Buffer): void {
  for (;;) {
    if (Atomics.load(shared, STOP)) throw new Stopped();
    const credit = Atomics.load(shared, CREDIT);
    if (credit > 0) break;
    Atomics.wait(shared, CREDIT, credit);
  }
  Atomics.sub(shared, CREDIT, chunk.length);
  post({ chunk });
}

/**
 * Reads one file to its end. A read shorter than asked at the size the scan saw is the end
 * of a regular file, so a small file takes three calls: open, read, close.
 */
function readFile(file: string, size: number): FileFed {
  let fed = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, OPEN_FLAGS);
    for (;;) {
      const n = readSync(fd, buffer, 0, READ_SIZE, null);
      if (n === 0) break;
      const piece = buffer.subarray(0, n);
      fed += n;
      for (const chunk of chunker.push(piece)) send(chunk);
      if (n < READ_SIZE && fed >= size) break;
    }
    return { fed };
  } catch (e) {
    if (e instanceof Stopped) throw e;
    return { fed, error: (e as Error).message };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

try {
  for (const [i, rel] of input.paths.entries()) {
    const read = readFile(path.join(input.root, rel), input.sizes[i]!); // may post, replacing `files`
    files.push(read);
    if (files.length >= FILES_PER_MESSAGE) post({});
  }
  const last = chunker.finish();
  if (last) send(last);
  post({ end: true });
} catch (e) {
  if (!(e instanceof Stopped)) throw e;
}
