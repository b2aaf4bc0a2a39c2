// Worker thread body for the codec pool: compression and encryption of outgoing objects,
// decryption and decompression of incoming ones, off the main thread so they overlap with
// chunking, hashing and I/O.

import { parentPort } from 'node:worker_threads';
import { chunkHashOf } from '../crypto/keys.js';
import { DbkError, corrupt } from '../errors.js';
import { decodeObject, decodeObjectInto, encodeObject } from '../format/object.js';
import type { CodecRequest, CodecResponse, HashCheck } from './codec-pool.js';

function run(req: CodecRequest): Uint8Array {
  const key = req.key ? { key: req.key } : {};
  switch (req.op) {
    case 'encode':
      return encodeObject(req.data, { kind: req.kind, compressionLevel: req.compressionLevel, ...key });
    case 'decode':
      return verified(req, decodeObject(req.data, { kind: req.kind, maxLength: req.maxLength, what: req.what, ...key }));
    case 'decodeInto': {
      const into = new Uint8Array(req.into.memory, req.into.offset, req.into.length);
      decodeObjectInto(req.data, { kind: req.kind, what: req.what, ...key }, into);
      verified(req, into);
      return new Uint8Array(0); // a buffer of its own: the answer moves it
    }
  }
}

/** A result that owns its memory is moved; a small one (from Node's shared buffer pool) is copied out first. */
function movable(out: Uint8Array): Uint8Array {
  const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
  return owned ? out : new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

function verified<T extends Uint8Array>(req: { verify?: HashCheck; what: string }, plain: T): T {
  if (req.verify && chunkHashOf(req.verify.hashKey, plain) !== req.verify.hash) throw corrupt(req.what, 'content does not match its hash');
  return plain;
}

parentPort?.on('message', (req: CodecRequest) => {
  let res: CodecResponse;
  try {
    const data = movable(run(req));
    res = { id: req.id, ok: true, data };
    parentPort!.postMessage(res, [data.buffer as ArrayBuffer]);
  } catch (e) {
    const code = e instanceof DbkError ? e.code : 'CORRUPT';
    res = { id: req.id, ok: false, code, message: (e as Error).message };
    parentPort!.postMessage(res);
  }
});
