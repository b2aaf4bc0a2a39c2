// Worker thread body for the codec pool: compression and encryption of outgoing objects,
// decryption and decompression of incoming ones, and the hashes of a backup's chunks and files, off
// the main thread and the reader's so they overlap with reading, chunking and I/O.

import { parentPort } from 'node:worker_threads';
import { chunkAndFileHashes } from '../crypto/chunk-hashes.js';
import { chunkHashOf } from '../crypto/keys.js';
import { corrupt, DbkError } from '../errors.js';
import { decodeObject, decodeObjectInto, encodeObject, encodeObjectInto } from '../format/object.js';
import { native } from '../native-module.js';
import type { CodecRequest, CodecResponse, HashCheck, SharedSpan } from './codec-pool.js';
import { GarbageBudget } from './worker-garbage.js';

/** The result, or the bytes written into shared memory. */
function run(req: CodecRequest): Uint8Array | number {
  const key = req.key ? { key: req.key } : {};
  // what was posted here is this thread's own copy (or moved here), unless it is shared memory
  const inPlace = !isShared(req.data);
  switch (req.op) {
    case 'encode': {
      const o = { kind: req.kind, compressionLevel: req.compressionLevel, ...key };
      return req.into ? encodeObjectInto(req.data, o, spanOf(req.into)) : encodeObject(req.data, o);
    }
    case 'decode':
      return verified(req, decodeObject(req.data, { kind: req.kind, maxLength: req.maxLength, what: req.what, inPlace, ...key }));
    case 'decodeInto': {
      const into = spanOf(req.into);
      decodeObjectInto(req.data, { kind: req.kind, what: req.what, inPlace, ...key }, into);
      verified(req, into);
      return into.length;
    }
    case 'hash':
      return chunkAndFileHashes(req.key, req.data, req.files);
  }
}

const isShared = (data: Uint8Array) => data.buffer instanceof SharedArrayBuffer;

const spanOf = (s: SharedSpan) => new Uint8Array(s.memory, s.offset, s.length);

/** A result that owns its memory is moved; a small one (from Node's shared buffer pool) is copied out first. */
function movable(out: Uint8Array): Uint8Array {
  const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
  return owned ? out : new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

function verified<T extends Uint8Array>(req: { verify?: HashCheck; what: string }, plain: T): T {
  if (req.verify && chunkHashOf(req.verify.hashKey, plain) !== req.verify.hash) throw corrupt(req.what, 'content does not match its hash');
  return plain;
}

const garbage = new GarbageBudget();

/** Node's cipher, used where the native module is not built, leaves its output behind, a piece at a time. */
const CIPHER_LEAVES = native?.aesGcm ? 0 : 1;

/** What a request leaves behind: its input, unless shared, and what the cipher left. */
const leftBehind = (req: CodecRequest) => ((isShared(req.data) ? 0 : 1) + (req.op === 'hash' ? 0 : CIPHER_LEAVES)) * req.data.length;

parentPort?.on('message', (req: CodecRequest) => {
  let res: CodecResponse;
  garbage.leave(leftBehind(req));
  try {
    const out = run(req);
    // a buffer of its own for an empty answer: the answer moves it
    const data = typeof out === 'number' ? new Uint8Array(0) : movable(out);
    res = { id: req.id, ok: true, data, length: typeof out === 'number' ? out : data.length };
    parentPort!.postMessage(res, [data.buffer as ArrayBuffer]);
  } catch (e) {
    const code = e instanceof DbkError ? e.code : 'CORRUPT';
    res = { id: req.id, ok: false, code, message: (e as Error).message };
    parentPort!.postMessage(res);
  }
});
