import { describe, expect, it } from 'vitest';
import { ABSENT } from '../../cache/chunk-list-cache.js';
import { diffIntSets, EMPTY_SET, type IntSet, toIntSet } from '../../cache/int-sets.js';
import type { ChainLink } from '../../cache/revision-cache.js';
import { revisionsReferencing, walkChains } from '../../src/catalog/chunk-stats.js';
import { seededRandom } from '../support/seeded-random.js';

/** Chains from whole sets, as the revision cache stores them. */
function chainOf(sets: { revision: number; set: IntSet }[]): ChainLink[] {
  let prev: IntSet = EMPTY_SET;
  return sets.map(({ revision, set }) => {
    const link = { revision, change: diffIntSets(prev, set) };
    prev = set;
    return link;
  });
}

/** The same figures the slow, obvious way. */
function naive(ids: Map<string, { revision: number; set: IntSet }[]>, sizes: Uint32Array, chosen: (id: string, r: number) => boolean) {
  const size = (x: number) => (sizes[x] === undefined || sizes[x] === ABSENT ? 0 : sizes[x]!);
  const sum = (xs: Iterable<number>) => [...xs].reduce((a, x) => a + size(x), 0);
  const unionOf = (id: string) => new Set(ids.get(id)!.flatMap((r) => [...r.set]));
  const referenced = new Set<number>();
  const stats = [...ids].map(([id, revs]) => {
    const seen = new Set<number>();
    const revisions = revs.map((r, k) => {
      const mine = new Set(r.set);
      if (chosen(id, r.revision)) for (const x of mine) referenced.add(x);
      const others = new Set(revs.filter((_, j) => j !== k).flatMap((o) => [...o.set]));
      const uniq = [...mine].filter((x) => !others.has(x));
      const fresh = [...mine].filter((x) => !seen.has(x));
      for (const x of fresh) seen.add(x);
      return { revision: r.revision, chunks: mine.size, bytes: sum(mine), uniqueChunks: uniq.length, uniqueBytes: sum(uniq), newChunks: fresh.length, newBytes: sum(fresh) };
    });
    const union = unionOf(id);
    const elsewhere = new Set([...ids.keys()].filter((o) => o !== id).flatMap((o) => [...unionOf(o)]));
    const uniq = [...union].filter((x) => !elsewhere.has(x));
    return { snapshotId: id, revisions, chunks: union.size, bytes: sum(union), uniqueChunks: uniq.length, uniqueBytes: sum(uniq) };
  });
  return { stats, referenced };
}

describe('walkChains', () => {
  it('matches the obvious computation on random histories', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rnd = seededRandom(seed);
      const universe = 60 + rnd.int(100);
      const sizes = Uint32Array.from({ length: universe }, () => (rnd.next() < 0.1 ? ABSENT : rnd.int(1000)));
      const ids = new Map<string, { revision: number; set: IntSet }[]>();
      for (const id of ['a', 'b', 'c'].slice(0, 1 + rnd.int(3))) {
        let cur = new Set(Array.from({ length: 20 }, () => rnd.int(universe)));
        const revs: { revision: number; set: IntSet }[] = [];
        let revision = 0;
        for (let k = 0; k < 1 + rnd.int(12); k++) {
          cur = new Set(cur);
          for (let c = 0; c < rnd.int(6); c++) cur.delete(rnd.pick([...cur, -1]));
          for (let c = 0; c < rnd.int(6); c++) cur.add(rnd.int(universe)); // re-adds of old chunks happen too
          revision += 1 + rnd.int(3);
          revs.push({ revision, set: toIntSet([...cur]) });
        }
        ids.set(id, revs);
      }
      const chosen = (id: string, r: number) => (id.charCodeAt(0) + r + seed) % 3 === 0;
      const walk = walkChains(new Map([...ids].map(([id, revs]) => [id, chainOf(revs)])), sizes, chosen);
      const expected = naive(ids, sizes, chosen);
      expect(walk.stats).toEqual(expected.stats);
      const referenced = new Set([...walk.referenced.keys()].filter((x) => walk.referenced[x] === 1));
      expect(referenced).toEqual(expected.referenced);
    }
  });

  it('names the revisions that reference given chunks', () => {
    const chains = new Map([
      [
        'a',
        chainOf([
          { revision: 1, set: toIntSet([1, 2]) },
          { revision: 2, set: toIntSet([2, 3]) },
          { revision: 5, set: toIntSet([1, 3]) },
        ]),
      ],
      ['b', chainOf([{ revision: 1, set: toIntSet([3]) }])],
    ]);
    expect(revisionsReferencing(chains, new Set([1, 3, 9]))).toEqual(
      new Map([
        [
          1,
          [
            { snapshotId: 'a', revision: 1 },
            { snapshotId: 'a', revision: 5 },
          ],
        ],
        [
          3,
          [
            { snapshotId: 'a', revision: 2 },
            { snapshotId: 'a', revision: 5 },
            { snapshotId: 'b', revision: 1 },
          ],
        ],
        [9, []],
      ]),
    );
  });
});
