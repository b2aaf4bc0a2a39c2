import { describe, expect, it } from 'vitest';
import { splitRecord } from '../../src/catalog/fossil-records.js';
import { isDbkError } from '../../src/errors.js';
import { decodeFossilRecord, encodeFossilRecord, type FossilRecord } from '../../src/format/fossil-collection.js';
import type { ChunkId } from '../../src/format/ids.js';
import { expectCorrupt } from '../support/engine.js';
import { seededRandom } from '../support/seeded-random.js';

const rnd = seededRandom(3);
const ids = (n: number) => Array.from({ length: n }, () => rnd.bytes(32).toString('hex') as ChunkId);

const collection: FossilRecord = {
  kind: 'collection',
  time: Date.UTC(2026, 10, 22, 5, 0, 0, 123),
  latest: [
    { snapshotId: 'docs', revision: 12 },
    { snapshotId: 'host-2.example@mail', revision: 3 },
  ],
  deletedRevisions: [{ snapshotId: 'docs', revision: 4 }],
  fossils: ids(40),
  running: ['0123456789abcdef', 'fedcba9876543210'],
};
const deletion: FossilRecord = {
  kind: 'deletion',
  time: Date.UTC(2026, 10, 29),
  latest: [],
  deletedRevisions: [
    { snapshotId: 'docs', revision: 1 },
    { snapshotId: 'docs', revision: 2 },
  ],
  completes: '1700000000000-ab12cd34',
  deleted: ids(5),
  resurrected: ids(2),
};

const decode = (data: Buffer) => () => decodeFossilRecord(data, 'fossils/test');

describe('fossil records', () => {
  it('round-trip both kinds exactly', () => {
    for (const r of [collection, deletion, { ...collection, fossils: [], latest: [], deletedRevisions: [], running: [] }]) {
      expect(decodeFossilRecord(encodeFossilRecord(r))).toEqual(r);
    }
  });

  it('start with their format version and kind', () => {
    const b = encodeFossilRecord(deletion);
    expect([b[0], b[1]]).toEqual([2, 2]);
  });

  it('read collections of version 1, which name no running backups', () => {
    const { running: _, ...v1 } = collection;
    const b = encodeFossilRecord(v1);
    b[0] = 1;
    expect(decodeFossilRecord(b.subarray(0, b.length - 1))).toEqual(v1); // version 2 ends with the count of running backups
  });

  it('every truncation and any stray byte is CORRUPT', () => {
    for (const r of [collection, deletion]) {
      const b = encodeFossilRecord(r);
      for (let n = 0; n < b.length; n++) expectCorrupt(decode(b.subarray(0, n)), `first ${n} bytes`);
      expectCorrupt(decode(Buffer.concat([b, Buffer.from([0])])), 'a stray byte');
    }
  });

  it('rejects unknown versions and kinds, bad ids and revisions, and fossils in a deletion', () => {
    const b = encodeFossilRecord(collection);
    const patched = (at: number, value: number) => Buffer.from(b).fill(value, at, at + 1);
    const noRevision = encodeFossilRecord({ ...collection, latest: [{ snapshotId: 'docs', revision: 1 }] });
    noRevision[noRevision.indexOf('docs') + 4] = 0; // revision 0
    const badId = encodeFossilRecord({ ...collection, latest: [{ snapshotId: 'docs', revision: 1 }] });
    badId.write('/', badId.indexOf('docs'));
    const deletionWithFossils = encodeFossilRecord({ ...collection });
    deletionWithFossils[1] = 2;
    for (const bad of [patched(0, 3), patched(1, 9), noRevision, badId, deletionWithFossils]) expectCorrupt(decode(bad), bad.toString('hex'));
  });

  it('damaged bytes either decode or fail as CORRUPT, never otherwise', () => {
    const b = encodeFossilRecord(deletion);
    for (let round = 0; round < 2000; round++) {
      const d = Buffer.from(b);
      d[rnd.int(d.length)] = rnd.int(256);
      try {
        decode(d)();
      } catch (e) {
        expect(isDbkError(e, 'CORRUPT'), String(e)).toBe(true);
      }
    }
  });
});

describe('records too large for one', () => {
  it('are written as several of the same kind, each id in exactly one, revisions in the first', () => {
    const parts = splitRecord({ ...collection, fossils: ids(7) }, 3);
    expect(parts.map((p) => (p as typeof collection & { fossils: ChunkId[] }).fossils.length)).toEqual([3, 3, 1]);
    expect(parts.every((p) => p.kind === 'collection' && p.running === collection.running)).toBe(true);
    expect(parts.map((p) => p.deletedRevisions.length)).toEqual([1, 0, 0]);
    const d = splitRecord({ ...deletion, deleted: ids(4), resurrected: ids(7) }, 3);
    expect(d.map((p) => p.kind === 'deletion' && [p.deleted.length, p.resurrected.length, p.completes])).toEqual([
      [3, 3, deletion.completes],
      [1, 3, deletion.completes],
      [0, 1, deletion.completes],
    ]);
    expect(splitRecord(deletion, 5)).toEqual([deletion]);
  });
});
