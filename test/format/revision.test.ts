// The revision record: round trip through the object envelope, and strict rejection (CORRUPT) of
// anything that is not a well-formed revision of this version.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DbkError } from '../../src/errors.js';
import { asChunkHash } from '../../src/format/ids.js';
import { decodeObject, encodeObject, ObjectKind } from '../../src/format/object.js';
import { checkSnapshotId, decodeRevision, encodeRevision, type Revision, revisionPath } from '../../src/format/revision.js';
import { expectCorrupt } from '../support/engine.js';

const h = () => asChunkHash(randomBytes(32).toString('hex'));
const revision: Revision = {
  snapshotId: 'host-1',
  revision: 42,
  startTime: 1_700_000_000_000,
  endTime: 1_700_000_060_000,
  tag: 'nightly ✓',
  fileCount: 1234,
  fileBytes: 2 ** 42,
  chunkCount: 99,
  fileListBytes: 12345,
  options: { host: 'box', hash: true, threads: 4 },
  sequences: { files: [h(), h()], chunkHashes: [h()], chunkLengths: [] },
};
const key = randomBytes(32);

const json = () => JSON.parse(encodeRevision(revision).toString()) as Record<string, unknown>;
const decodeJson = (j: unknown) => decodeRevision(Buffer.from(JSON.stringify(j)));

describe('revision', () => {
  it('round-trips, plain and sealed in its envelope', () => {
    expect(decodeRevision(encodeRevision(revision))).toEqual(revision);
    const sealed = encodeObject(encodeRevision(revision), { kind: ObjectKind.REVISION, compressionLevel: 3, key });
    const opened = decodeObject(sealed, { kind: ObjectKind.REVISION, key, maxLength: 1 << 20, what: 'revision' });
    expect(decodeRevision(opened)).toEqual(revision);
  });

  it('reads version 1, which does not declare the length of its file list', () => {
    const { fileListBytes: _, ...v1 } = revision;
    expect(decodeJson({ ...json(), version: 1 })).toEqual(v1);
  });

  it('keeps hash sequences as hashes and names its path', () => {
    expect(revisionPath('host-1', 42)).toBe('snapshots/host-1/42');
    expect(checkSnapshotId('a.b_c@d-1')).toBe('a.b_c@d-1');
    for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(129), 'sp ace']) expect(() => checkSnapshotId(bad)).toThrow(DbkError);
  });

  it('truncated at any length: CORRUPT', () => {
    const enc = encodeRevision(revision);
    for (let n = 0; n < enc.length; n++) expectCorrupt(() => decodeRevision(enc.subarray(0, n)), `at length ${n}`);
  });

  it('a sealed revision with any byte flipped, or opened with another key or as another kind: CORRUPT', () => {
    const sealed = encodeObject(encodeRevision(revision), { kind: ObjectKind.REVISION, compressionLevel: 3, key });
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      expectCorrupt(() => decodeRevision(decodeObject(bad, { kind: ObjectKind.REVISION, key, maxLength: 1 << 20, what: 'r' })), `byte ${i}`);
    }
    expectCorrupt(() => decodeObject(sealed, { kind: ObjectKind.REVISION, key: randomBytes(32), maxLength: 1 << 20, what: 'r' }));
    expectCorrupt(() => decodeObject(sealed, { kind: ObjectKind.CHUNK, key, maxLength: 1 << 20, what: 'r' }));
  });

  it('another version, or missing or ill-typed fields: CORRUPT', () => {
    const j = json();
    const variants: [string, unknown][] = [
      ['version 3', { ...j, version: 3 }],
      ['revision 0', { ...j, revision: 0 }],
      ['more chunks than a revision may have', { ...j, chunkCount: 2 ** 25 + 1 }],
      ['a file list of 2 GiB', { ...j, fileListBytes: 2 ** 31 }],
      ['an empty file list', { ...j, fileListBytes: 0 }],
      ['version 2 without the length of its file list', { ...j, fileListBytes: undefined }],
      ['no version', { ...j, version: undefined }],
      ['an array', [j]],
      ['null', null],
      ['snapshot id a number', { ...j, snapshotId: 7 }],
      ['negative revision', { ...j, revision: -1 }],
      ['fractional revision', { ...j, revision: 1.5 }],
      ['revision a string', { ...j, revision: '42' }],
      ['tag missing', { ...j, tag: undefined }],
      ['negative file count', { ...j, fileCount: -1 }],
      ['chunk count missing', { ...j, chunkCount: undefined }],
      ['start time a string', { ...j, startTime: 'yesterday' }],
      ['options an array', { ...j, options: [] }],
      ['options null', { ...j, options: null }],
      ['no sequences', { ...j, sequences: undefined }],
      ['files not a list', { ...j, sequences: { ...(j.sequences as object), files: 'abc' } }],
      ['a short hash', { ...j, sequences: { ...(j.sequences as object), chunkHashes: ['abcd'] } }],
      ['an upper-case hash', { ...j, sequences: { ...(j.sequences as object), chunkHashes: ['A'.repeat(64)] } }],
      ['chunk lengths missing', { ...j, sequences: { files: [], chunkHashes: [] } }],
    ];
    for (const [name, v] of variants) expectCorrupt(() => decodeJson(v), name);
    expectCorrupt(() => decodeRevision(Buffer.from('not json')), 'not JSON');
    expectCorrupt(() => decodeRevision(Buffer.from([0xff, 0xfe, 0x00])), 'binary');
  });
});
