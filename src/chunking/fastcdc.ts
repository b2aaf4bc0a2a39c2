// Content-defined chunking in the FastCDC family: a gear rolling hash, no hashing of the first
// `minimum` bytes of a chunk, and normalized chunking (a stricter mask before the average size,
// a looser one after) so sizes cluster around the average. Pure: bytes in, chunks out, no I/O.
//
// The stream is fed in arbitrary pieces (file after file, as one virtual file); cut points depend
// only on content, never on how it was split into pieces. The chunker copies what it keeps, so a
// caller may read into the same buffer again as soon as push() returns, and every chunk owns its
// memory (it can be transferred to another thread whole).

import { createHmac } from 'node:crypto';
import type { ChunkSizes } from '../format/config.js';

/** The 256-entry gear table, derived from the storage's chunk seed so cut points are not public. */
export function gearTable(seed: Uint8Array): Int32Array {
  const table = new Int32Array(256);
  for (let block = 0; block < 32; block++) {
    const d = createHmac('sha256', seed).update(`gear ${block}`).digest();
    for (let j = 0; j < 8; j++) table[block * 8 + j] = d.readInt32LE(j * 4);
  }
  return table;
}

/** A mask of `bits` ones in the high bits: with a left-shifting gear hash those depend on the most bytes. */
const EMPTY = Buffer.alloc(0);

const highMask = (bits: number) => (bits >= 32 ? -1 : ((1 << bits) - 1) << (32 - bits)) | 0;

export class Chunker {
  private readonly gear: Int32Array;
  private readonly maskS: number;
  private readonly maskL: number;
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  /** the bytes of the chunk under way, allocated at the first bytes kept */
  private pending: Buffer | undefined;
  private pendingLength = 0;
  private hash = 0;

  constructor(sizes: ChunkSizes, seed: Uint8Array) {
    this.gear = gearTable(seed);
    const bits = Math.round(Math.log2(sizes.average));
    this.maskS = highMask(bits + 2);
    this.maskL = highMask(bits - 2);
    this.min = sizes.minimum;
    this.avg = sizes.average;
    this.max = sizes.maximum;
  }

  /** Feeds the next bytes of the stream; returns the chunks completed by them, in order. */
  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    while (start < data.length) {
      const cut = this.findCut(data, start);
      if (cut < 0) {
        this.keep(data.subarray(start));
        break;
      }
      out.push(this.takeChunk(data.subarray(start, cut)));
      start = cut;
    }
    return out;
  }

  /** Ends the stream: the last, possibly short chunk, if any bytes are pending. */
  finish(): Buffer | undefined {
    return this.pendingLength > 0 ? this.takeChunk(EMPTY) : undefined;
  }

  private keep(bytes: Buffer): void {
    // fewer than `max` bytes are ever pending: findCut cuts at `max`
    this.pending ??= Buffer.allocUnsafeSlow(this.max);
    bytes.copy(this.pending, this.pendingLength);
    this.pendingLength += bytes.length;
  }

  /** The pending bytes followed by `tail`, as a chunk with an ArrayBuffer of its own. */
  private takeChunk(tail: Buffer): Buffer {
    const chunk = Buffer.allocUnsafeSlow(this.pendingLength + tail.length);
    if (this.pendingLength > 0) this.pending!.copy(chunk, 0, 0, this.pendingLength);
    tail.copy(chunk, this.pendingLength);
    this.pendingLength = 0;
    this.hash = 0;
    return chunk;
  }

  /** Index in `data` just after the next cut point, or -1 when the chunk continues past `data`. */
  private findCut(data: Buffer, start: number): number {
    const gear = this.gear;
    const offset = this.pendingLength - start; // chunk position = index + offset
    // skip the first `min` bytes unhashed, but never past the data: with min = max the cap below
    // would otherwise cut beyond the bytes there are
    let i = Math.max(start, Math.min(data.length, this.min - offset));
    let h = this.hash;
    const maskS = this.maskS;
    const maskL = this.maskL;
    const normalEnd = Math.min(data.length, this.avg - offset);
    for (; i < normalEnd; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskS) === 0) return i + 1;
    }
    const hardEnd = Math.min(data.length, this.max - offset);
    for (; i < hardEnd; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskL) === 0) return i + 1;
    }
    this.hash = h;
    if (i + offset >= this.max) return i;
    return -1;
  }
}
