import { describe, expect, it } from 'vitest';
import { applyChange, composeChanges, decodeIntSet, diffIntSets, encodeIntSet, invertChange, toIntSet } from '../../cache/int-sets.js';
import { expectCorrupt } from '../support/engine.js';
import { seededRandom } from '../support/seeded-random.js';

const rnd = seededRandom(7);
const randomSet = (max: number, n: number) => toIntSet(Array.from({ length: n }, () => rnd.int(max)));
const asArray = (s: Int32Array) => Array.from(s);

describe('int sets', () => {
  it('sorts and drops repeats', () => {
    expect(asArray(toIntSet([5, 1, 5, 3, 1, 0]))).toEqual([0, 1, 3, 5]);
  });

  it('round-trips through the blob form, runs costing one byte each', () => {
    for (const s of [toIntSet([]), toIntSet([0]), toIntSet([2 ** 31 - 1]), randomSet(1 << 30, 500), randomSet(1000, 900)]) {
      expect(asArray(decodeIntSet(encodeIntSet(s), 't'))).toEqual(asArray(s));
    }
    const run = toIntSet(Array.from({ length: 1000 }, (_, i) => 70_000 + i));
    expect(encodeIntSet(run).length).toBe(2 + 3 + 999);
  });

  it('rejects damaged blobs', () => {
    const good = encodeIntSet(toIntSet([1, 2, 300]));
    const bad = [
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.from([0])]), // stray byte
      Buffer.from([2, 1, 0]), // not increasing
      Buffer.from([1, 0xff, 0xff, 0xff, 0xff, 0x0f]), // beyond 2^31
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // number too long
      Buffer.from([100, 1]), // count larger than the blob
    ];
    for (const b of bad) expectCorrupt(() => decodeIntSet(b, 'cache test'), b.toString('hex'));
  });

  it('diff, apply, compose and invert agree with plain sets', () => {
    for (let round = 0; round < 300; round++) {
      const max = 1 + rnd.int(200);
      const [a, b, c] = [randomSet(max, rnd.int(150)), randomSet(max, rnd.int(150)), randomSet(max, rnd.int(150))];
      const ab = diffIntSets(a, b);
      const bc = diffIntSets(b, c);
      expect(asArray(applyChange(a, ab))).toEqual(asArray(b));
      expect(asArray(applyChange(b, invertChange(ab)))).toEqual(asArray(a));
      const ac = composeChanges(ab, bc);
      expect(asArray(applyChange(a, ac))).toEqual(asArray(c));
      // the composition is minimal: exactly the difference between a and c
      expect(asArray(ac.added)).toEqual(asArray(diffIntSets(a, c).added));
      expect(asArray(ac.removed)).toEqual(asArray(diffIntSets(a, c).removed));
    }
  });
});
