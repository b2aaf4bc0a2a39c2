import { describe, expect, it } from 'vitest';
import { openCacheDb } from '../../cache/cache-db.js';
import { applyChange, type IntSet, toIntSet } from '../../cache/int-sets.js';
import { RevisionCache, type RevisionSummary } from '../../cache/revision-cache.js';
import { silentLogger } from '../../src/log.js';
import { expectCorrupt } from '../support/engine.js';
import { type Random, seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

const summary = (revision: number): RevisionSummary => ({
  startTime: revision * 1000,
  endTime: revision * 1000 + 10,
  tag: `t${revision}`,
  fileCount: revision,
  fileBytes: revision * 100,
});

/** Sets that drift the way revisions do: each replaces a few members of the one before. */
function driftingSets(rnd: Random, count: number): IntSet[] {
  let cur = new Set(Array.from({ length: 200 }, () => rnd.int(300)));
  let next = 1000;
  const out: IntSet[] = [];
  for (let i = 0; i < count; i++) {
    cur = new Set(cur);
    for (let k = 0; k < 5; k++) {
      cur.delete(rnd.pick([...cur]));
      cur.add(rnd.next() < 0.2 ? rnd.int(300) : next++);
    }
    out.push(toIntSet([...cur]));
  }
  return out;
}

/** Replays a chain from its links into whole sets. */
function replay(cache: RevisionCache, id: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  let set: IntSet = new Int32Array(0);
  for (const link of cache.chains([id]).get(id) ?? []) {
    set = applyChange(set, link.change);
    out.set(link.revision, Array.from(set));
  }
  return out;
}

describe('RevisionCache', () => {
  it('keeps the exact set of every revision through adds and removes in any order', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = seededRandom(seed);
      const cache = new RevisionCache(openCacheDb(tempDir(), silentLogger));
      const sets = driftingSets(rnd, 40);
      const truth = new Map<number, number[]>();
      for (let step = 0; step < 150; step++) {
        const revision = 1 + rnd.int(sets.length);
        if (rnd.next() < 0.65) {
          cache.add('a', revision, sets[revision - 1]!, summary(revision), 50 + revision);
          truth.set(revision, Array.from(sets[revision - 1]!));
        } else {
          cache.remove('a', [revision]);
          truth.delete(revision);
        }
        const cached = replay(cache, 'a');
        expect([...cached.keys()]).toEqual([...truth.keys()].sort((x, y) => x - y));
        for (const [r, set] of truth) expect(cached.get(r)).toEqual(set);
        if (truth.size > 0) {
          const r = rnd.pick([...truth.keys()]);
          expect(Array.from(cache.setOf('a', r))).toEqual(truth.get(r));
        }
      }
    }
  });

  it('stores later revisions as small changes, not whole sets', () => {
    const db = openCacheDb(tempDir(), silentLogger);
    const cache = new RevisionCache(db);
    const sets = driftingSets(seededRandom(9), 30);
    for (const [i, s] of sets.entries()) cache.add('a', i + 1, s, summary(i + 1), null);
    const sizes = db.prepare('SELECT revision, base, length(added) + length(removed) AS bytes FROM revisions ORDER BY revision').all() as {
      revision: number;
      base: number;
      bytes: number;
    }[];
    expect(sizes[0]!.base).toBe(0);
    for (const row of sizes.slice(1)) {
      expect(row.base).toBe(row.revision - 1);
      expect(row.bytes).toBeLessThan(40); // ~5 added and 5 removed numbers, not 200
    }
  });

  it('keeps snapshot ids apart and lists summaries', () => {
    const cache = new RevisionCache(openCacheDb(tempDir(), silentLogger));
    cache.add('b', 2, toIntSet([1, 2, 3]), summary(2), 77);
    cache.add('a', 1, toIntSet([3, 4]), summary(1), null);
    cache.add('b', 1, toIntSet([2]), summary(1), null);
    cache.setFileSize('a', 1, 88);
    expect(cache.list().map((r) => [r.snapshotId, r.revision, r.chunkCount, r.fileSize, r.tag])).toEqual([
      ['a', 1, 2, 88, 't1'],
      ['b', 1, 1, null, 't1'],
      ['b', 2, 3, 77, 't2'],
    ]);
    expect(cache.get('b', 2)).toMatchObject({ startTime: 2000, endTime: 2010, fileCount: 2, fileBytes: 200 });
    expect(Array.from(cache.setOf('b', 2))).toEqual([1, 2, 3]);
    expect([...cache.chains().keys()]).toEqual(['a', 'b']);
  });

  it('a broken chain is reported as cache damage', () => {
    const db = openCacheDb(tempDir(), silentLogger);
    const cache = new RevisionCache(db);
    cache.add('a', 1, toIntSet([1]), summary(1), null);
    cache.add('a', 2, toIntSet([1, 2]), summary(2), null);
    db.prepare('UPDATE revisions SET base = 7 WHERE revision = 2').run();
    expect(() => cache.chains()).toThrow(/based on 7/);
    expectCorrupt(() => new RevisionCache(db).setOf('a', 2));
  });

  it('a remembered set is not used once another process replaced that revision', () => {
    const dir = tempDir();
    const mine = new RevisionCache(openCacheDb(dir, silentLogger));
    const other = new RevisionCache(openCacheDb(dir, silentLogger));
    mine.add('a', 1, toIntSet([1, 2, 3]), summary(1), null);
    other.remove('a', [1]);
    other.add('a', 1, toIntSet([7, 8]), { ...summary(1), startTime: 5 }, null); // a new revision 1
    mine.add('a', 2, toIntSet([8, 9]), summary(2), null);
    expect(Array.from(other.setOf('a', 2))).toEqual([8, 9]);
    expect(replay(other, 'a').get(2)).toEqual([8, 9]);
  });
});
