import { describe, expect, it } from 'vitest';
import { IdTable } from '../../cache/id-table.js';
import { seededRandom } from '../support/seeded-random.js';

describe('IdTable', () => {
  it('numbers keys in insertion order and finds them again after growing', () => {
    const rnd = seededRandom(1);
    const keys = Array.from({ length: 20_000 }, () => rnd.bytes(32));
    const t = new IdTable(4);
    const numbers = keys.map((k) => t.add(k));
    expect(numbers).toEqual(keys.map((_, i) => i));
    expect(t.size).toBe(keys.length);
    expect(keys.map((k) => t.find(k))).toEqual(numbers);
    expect(keys.map((k) => t.findHex(k.toString('hex')))).toEqual(numbers);
    expect(keys.every((k, i) => t.keyAt(i).equals(k))).toBe(true);
    expect(t.add(keys[123]!)).toBe(123);
    expect(t.size).toBe(keys.length);
    expect(t.find(rnd.bytes(32))).toBe(-1);
  });

  it('tells keys apart that share their slot bytes', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.from(a);
    b[31] = 2;
    const t = new IdTable();
    expect(t.add(a)).toBe(0);
    expect(t.find(b)).toBe(-1);
    expect(t.add(b)).toBe(1);
    expect(t.find(a)).toBe(0);
  });

  it('reads keys at an offset and hands out key ranges', () => {
    const rnd = seededRandom(2);
    const run = rnd.bytes(32 * 5);
    const t = new IdTable();
    for (let i = 0; i < 5; i++) t.add(run, i * 32);
    expect(t.keyBytes(1, 4).equals(run.subarray(32, 128))).toBe(true);
    expect(t.find(run, 64)).toBe(2);
  });
});
