// Worker thread body for the codec pool: compression and encryption of outgoing objects,
// decryption and decompression of incoming ones, off the main thread so they overlap with
// chunking, hashing and I/O.

import { parentPort } from 'node:worker_threads';
import { chunkHashOf } from '../crypto/keys.js';
import { DbkError, corrupt } from '../errors.js';
import { decodeObject, encodeObject } from '../format/object.js';
import type { CodecRequest, CodecResponse } from './codec-pool.js';

parentPort?.on('message', (req: CodecRequest) => {
  let res: CodecResponse;
  try {
    const out =
      req.op === 'encode'
        ? encodeObject(req.data, { kind: req.kind, compressionLevel: req.compressionLevel, ...(req.key ? { key: req.key } : {}) })
        : decodeObject(req.data, { kind: req.kind, maxLength: req.maxLength, what: req.what, ...(req.key ? { key: req.key } : {}) });
    if (req.op === 'decode' && req.verify && chunkHashOf(req.verify.hashKey, out) !== req.verify.hash) {
      throw corrupt(req.what, 'content does not match its hash');
    }
    // a result that owns its memory is moved to the main thread; a small one (from Node's
    // shared buffer pool) is copied out first
    const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
    const ab = (owned ? out.buffer : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength)) as ArrayBuffer;
    res = { id: req.id, ok: true, data: new Uint8Array(ab) };
    parentPort!.postMessage(res, [ab]);
  } catch (e) {
    const code = e instanceof DbkError ? e.code : 'CORRUPT';
    res = { id: req.id, ok: false, code, message: (e as Error).message };
    parentPort!.postMessage(res);
  }
});
