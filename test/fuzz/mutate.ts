// A seeded mutator of valid inputs: the damage a disk, a network or a hostile writer does to a
// file, from one flipped bit to a length field set to its largest value, bytes cut off or
// repeated, and pieces of another valid input spliced in.

import type { Random } from '../../src/seeded-random.js';

type Mutation = (data: Buffer, rnd: Random, donor: Buffer) => Buffer;

const at = (data: Buffer, rnd: Random) => rnd.int(Math.max(1, data.length));

const mutations: Mutation[] = [
  // one flipped bit
  (d, rnd) => {
    const out = Buffer.from(d);
    if (out.length > 0) out[at(out, rnd)]! ^= 1 << rnd.int(8);
    return out;
  },
  // a few random bytes
  (d, rnd) => {
    const out = Buffer.from(d);
    for (let n = 1 + rnd.int(4); n > 0 && out.length > 0; n--) out[at(out, rnd)] = rnd.int(256);
    return out;
  },
  // cut short
  (d, rnd) => d.subarray(0, rnd.int(d.length + 1)),
  // bytes inserted
  (d, rnd) => {
    const i = at(d, rnd);
    return Buffer.concat([d.subarray(0, i), rnd.bytes(1 + rnd.int(16)), d.subarray(i)]);
  },
  // a piece repeated
  (d, rnd) => {
    const i = at(d, rnd);
    const piece = d.subarray(i, i + 1 + rnd.int(64));
    return Buffer.concat([d.subarray(0, i), ...Array.from({ length: 2 + rnd.int(8) }, () => piece), d.subarray(i)]);
  },
  // a count or length at its largest: 0xff… where a varint or size may sit
  (d, rnd) => {
    const out = Buffer.from(d);
    const i = at(out, rnd);
    out.fill(0xff, i, Math.min(out.length, i + 1 + rnd.int(9)));
    return out;
  },
  // zeros
  (d, rnd) => {
    const out = Buffer.from(d);
    const i = at(out, rnd);
    out.fill(0, i, Math.min(out.length, i + 1 + rnd.int(32)));
    return out;
  },
  // spliced with another valid input
  (d, rnd, donor) => Buffer.concat([d.subarray(0, at(d, rnd)), donor.subarray(at(donor, rnd))]),
  // garbage appended
  (d, rnd) => Buffer.concat([d, rnd.bytes(1 + rnd.int(64))]),
];

/** One to three mutations of `data`. */
export function mutate(data: Buffer, rnd: Random, donor: Buffer): Buffer {
  let out = data;
  for (let n = 1 + rnd.int(3); n > 0; n--) out = rnd.pick(mutations)(out, rnd, donor);
  return out;
}
