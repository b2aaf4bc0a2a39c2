import { describe, expect, it } from 'vitest';
import { openCacheDb } from '../../cache/cache-db.js';
import { ChunkDictionary, dictionaryPages, PAGE_IDS, readChunkIdsAt } from '../../cache/chunk-dictionary.js';
import { silentLogger } from '../../src/log.js';
import { expectCorrupt } from '../support/engine.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

const rnd = seededRandom(11);

describe('ChunkDictionary', () => {
  it('gives every id one number, kept across reloads and page boundaries', () => {
    const db = openCacheDb(tempDir(), silentLogger);
    const ids = rnd.bytes(32 * (PAGE_IDS + 100));
    const d = ChunkDictionary.load(db);
    const first = d.intern(ids.subarray(0, 32 * 50));
    expect(Array.from(first)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const all = d.intern(ids); // the first 50 are known, the rest new, crossing into page 1
    expect(Array.from(all)).toEqual(Array.from({ length: PAGE_IDS + 100 }, (_, i) => i));
    const reloaded = ChunkDictionary.load(db);
    expect(reloaded.size).toBe(PAGE_IDS + 100);
    expect(reloaded.find(ids, 32 * (PAGE_IDS + 7))).toBe(PAGE_IDS + 7);
    expect(reloaded.hexAt(3)).toBe(ids.toString('hex', 96, 128));
    expect(readChunkIdsAt(db, [PAGE_IDS + 99, 3, PAGE_IDS + 100])).toEqual([ids.toString('hex', 32 * (PAGE_IDS + 99), 32 * (PAGE_IDS + 100)), ids.toString('hex', 96, 128), undefined]);
    expect(dictionaryPages(db)).toBe(2);
    db.close();
  });

  it('repeats within one batch get one number', () => {
    const db = openCacheDb(tempDir(), silentLogger);
    const a = rnd.bytes(32);
    const b = rnd.bytes(32);
    const n = ChunkDictionary.load(db).intern(Buffer.concat([a, b, a, a, b]));
    expect(Array.from(n)).toEqual([0, 1, 0, 0, 1]);
    db.close();
  });

  it('two handles on one file never hand out a number twice', () => {
    const dir = tempDir();
    const [db1, db2] = [openCacheDb(dir, silentLogger), openCacheDb(dir, silentLogger)];
    const [d1, d2] = [ChunkDictionary.load(db1), ChunkDictionary.load(db2)];
    const shared = rnd.bytes(32 * 10);
    const only1 = rnd.bytes(32 * 10);
    const only2 = rnd.bytes(32 * 10);
    const n1 = d1.intern(Buffer.concat([only1, shared]));
    const n2 = d2.intern(Buffer.concat([shared, only2])); // must see d1's numbers for `shared`
    expect(Array.from(n2.subarray(0, 10))).toEqual(Array.from(n1.subarray(10)));
    expect(Array.from(n2.subarray(10))).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
    expect(d1.intern(only2)[0]).toBe(20);
    expect(ChunkDictionary.load(db1).size).toBe(30);
    db1.close();
    db2.close();
  });

  it('a page out of place is reported as cache damage', () => {
    const db = openCacheDb(tempDir(), silentLogger);
    ChunkDictionary.load(db).intern(rnd.bytes(64));
    db.prepare('UPDATE dictionary SET page = 5').run();
    expectCorrupt(() => ChunkDictionary.load(db));
    db.close();
  });
});
