// Sets of chunk numbers (dictionary integers) as strictly increasing Int32Arrays, and change
// lists between them. This is what makes the per-revision cache cheap: a revision is stored as
// the change against the previous revision of its snapshot id, and every operation here is a
// linear merge over sorted arrays, so work follows the size of a change, not of a revision.
//
// Blob form of a set: varint count, then the first value and the gaps to each next value, all
// unsigned LEB128. Runs of neighbouring numbers (the common case: a revision's chunks were
// numbered together) cost one byte each.

import { corrupt } from '../src/errors.js';

/** A strictly increasing list of non-negative integers below 2^31. */
export type IntSet = Int32Array;

/** What turns one set into another: both lists sorted, disjoint from each other. */
export interface IntSetChange {
  added: IntSet;
  removed: IntSet;
}

export const EMPTY_SET: IntSet = new Int32Array(0);

/** Sorts any list of numbers and drops repeats. */
export function toIntSet(values: ArrayLike<number>): IntSet {
  const sorted = Int32Array.from(values).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  }
  return sorted.subarray(0, n);
}

export function encodeIntSet(set: IntSet): Buffer {
  const out = Buffer.allocUnsafe(5 * (set.length + 1));
  let pos = writeVarint(out, 0, set.length);
  let prev = 0;
  for (let i = 0; i < set.length; i++) {
    const v = set[i]!;
    pos = writeVarint(out, pos, i === 0 ? v : v - prev);
    prev = v;
  }
  return out.subarray(0, pos);
}

export function decodeIntSet(blob: Uint8Array, what: string): IntSet {
  const r = { pos: 0 };
  const n = readVarint(blob, r, what);
  if (n > blob.length) throw corrupt(what, `claims ${n} entries in ${blob.length} bytes`);
  const set = new Int32Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    const step = readVarint(blob, r, what);
    if (i > 0 && step === 0) throw corrupt(what, 'numbers are not strictly increasing');
    v += step;
    if (v > 0x7fffffff) throw corrupt(what, 'number out of range');
    set[i] = v;
  }
  if (r.pos !== blob.length) throw corrupt(what, `${blob.length - r.pos} stray bytes at the end`);
  return set;
}

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  return pos;
}

function readVarint(blob: Uint8Array, r: { pos: number }, what: string): number {
  let n = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (r.pos >= blob.length) throw corrupt(what, 'truncated');
    const b = blob[r.pos++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return n;
  }
  throw corrupt(what, 'number too long');
}

/** The change that turns `from` into `to`. */
export function diffIntSets(from: IntSet, to: IntSet): IntSetChange {
  return { added: minus(to, from), removed: minus(from, to) };
}

/** `base` with a change applied. The change must fit the base (added absent, removed present). */
export function applyChange(base: IntSet, change: IntSetChange): IntSet {
  return union(minus(base, change.removed), change.added);
}

/** One change doing what `first` then `second` do. */
export function composeChanges(first: IntSetChange, second: IntSetChange): IntSetChange {
  return {
    added: union(minus(first.added, second.removed), minus(second.added, first.removed)),
    removed: union(minus(first.removed, second.added), minus(second.removed, first.added)),
  };
}

export function invertChange(c: IntSetChange): IntSetChange {
  return { added: c.removed, removed: c.added };
}

export function union(a: IntSet, b: IntSet): IntSet {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x <= y) {
      out[n++] = x;
      i++;
      if (x === y) j++;
    } else {
      out[n++] = y;
      j++;
    }
  }
  while (i < a.length) out[n++] = a[i++]!;
  while (j < b.length) out[n++] = b[j++]!;
  return out.subarray(0, n);
}

/** Members of `a` that are not in `b`. */
export function minus(a: IntSet, b: IntSet): IntSet {
  if (b.length === 0 || a.length === 0) return a;
  const out = new Int32Array(a.length);
  let j = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    while (j < b.length && b[j]! < x) j++;
    if (j >= b.length || b[j] !== x) out[n++] = x;
  }
  return out.subarray(0, n);
}
