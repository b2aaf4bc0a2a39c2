// Prune records, fossils/<name> on the storage (sealed in the object envelope, kind
// FOSSIL_COLLECTION). Kept on the storage so that any client can finish a prune, and so that
// every client's local cache learns what a prune removed:
//   collection  prune step 1: the time the fossils were made, the latest revision of every
//               snapshot id then, the fossils, the revisions deleted, and the running backups
//               (announcements, see engine/running-backups.ts) present once the fossils were made:
//               step 2 waits until every one of them has gone.
//   deletion    prune step 2 (or an -exclusive prune, or check -resurrect): the chunks deleted,
//               the fossils brought back, the revisions deleted, and which collection it
//               completes ('' for none).
//
//   version (2) | kind (1 collection, 2 deletion) | time (varint ms)
//   | latest: count, (snapshot id, revision)… | deleted revisions: count, (snapshot id, revision)…
//   | fossils: count, 32-byte ids…
//   kind 1 adds (version 2): running: count, announcement names…
//   kind 2 adds: completes (string) | deleted: count, ids… | resurrected: count, ids…
// Version 1 collections have no list of running backups: step 2 waits for them by the classic rule.

import { corrupt } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';
import { type ChunkId, HASH_BYTES } from './ids.js';

export const FOSSIL_RECORD_VERSION = 2;

export interface RevisionRef {
  snapshotId: string;
  revision: number;
}

interface RecordBase {
  /** milliseconds since the epoch: for a collection, when its last fossil was made */
  time: number;
  /** the newest revision of every snapshot id at that time */
  latest: RevisionRef[];
  deletedRevisions: RevisionRef[];
}

export interface FossilCollection extends RecordBase {
  kind: 'collection';
  fossils: ChunkId[];
  /** announcements of running backups once the fossils were made; undefined in version 1 records */
  running?: string[];
}

export interface FossilDeletion extends RecordBase {
  kind: 'deletion';
  /** the name of the collection record this completes; '' for an -exclusive prune */
  completes: string;
  /** chunks and fossils deleted from the storage */
  deleted: ChunkId[];
  /** fossils renamed back to chunks because a newer revision references them */
  resurrected: ChunkId[];
}

export type FossilRecord = FossilCollection | FossilDeletion;

const KIND_CODE = { collection: 1, deletion: 2 } as const;
const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export function encodeFossilRecord(r: FossilRecord): Buffer {
  const w = new BinaryWriter().byte(FOSSIL_RECORD_VERSION).byte(KIND_CODE[r.kind]).varint(r.time);
  writeRefs(w, r.latest);
  writeRefs(w, r.deletedRevisions);
  if (r.kind === 'collection') {
    writeIds(w, r.fossils);
    w.varint(r.running?.length ?? 0);
    for (const name of r.running ?? []) w.string(name);
  } else {
    writeIds(w, []);
    w.string(r.completes);
    writeIds(w, r.deleted);
    writeIds(w, r.resurrected);
  }
  return w.toBuffer();
}

export function decodeFossilRecord(data: Buffer, what = 'fossil record'): FossilRecord {
  const rd = new BinaryReader(data, what);
  const version = rd.byte();
  if (version !== 1 && version !== FOSSIL_RECORD_VERSION) throw corrupt(what, `record format ${version}, not one this dbk reads (a newer dbk may have written it)`);
  const kind = rd.byte();
  if (kind !== KIND_CODE.collection && kind !== KIND_CODE.deletion) throw corrupt(what, `unknown record kind ${kind}`);
  const time = rd.varint();
  const latest = readRefs(rd, what);
  const deletedRevisions = readRefs(rd, what);
  const fossils = readIds(rd);
  let record: FossilRecord;
  if (kind === KIND_CODE.collection) {
    record = { kind: 'collection', time, latest, deletedRevisions, fossils, ...(version === 1 ? {} : { running: readNames(rd, what) }) };
  } else {
    if (fossils.length > 0) throw corrupt(what, 'a deletion record lists fossils');
    const completes = rd.string();
    record = { kind: 'deletion', time, latest, deletedRevisions, completes, deleted: readIds(rd), resurrected: readIds(rd) };
  }
  if (!rd.done) throw corrupt(what, `${data.length - rd.pos} stray bytes at the end`);
  return record;
}

function writeRefs(w: BinaryWriter, refs: readonly RevisionRef[]): void {
  w.varint(refs.length);
  for (const r of refs) w.string(r.snapshotId).varint(r.revision);
}

function readRefs(rd: BinaryReader, what: string): RevisionRef[] {
  const n = rd.varint();
  if (n > rd.remaining) throw corrupt(what, `${n} revisions in ${rd.remaining} bytes`);
  const out: RevisionRef[] = [];
  for (let i = 0; i < n; i++) {
    const snapshotId = rd.string(128);
    const revision = rd.varint();
    if (!SNAPSHOT_ID.test(snapshotId)) throw corrupt(what, `bad snapshot id '${snapshotId.slice(0, 40)}'`);
    if (revision < 1) throw corrupt(what, `bad revision ${revision} of '${snapshotId}'`);
    out.push({ snapshotId, revision });
  }
  return out;
}

function readNames(rd: BinaryReader, what: string): string[] {
  const n = rd.varint();
  if (n > rd.remaining) throw corrupt(what, `${n} names in ${rd.remaining} bytes`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(rd.string(64));
  return out;
}

function writeIds(w: BinaryWriter, ids: readonly ChunkId[]): void {
  w.varint(ids.length);
  for (const id of ids) w.bytes(Buffer.from(id, 'hex'));
}

function readIds(rd: BinaryReader): ChunkId[] {
  const n = rd.varint();
  const bytes = rd.bytes(n * HASH_BYTES); // checks the length before anything is allocated per id
  const out = new Array<ChunkId>(n);
  for (let i = 0; i < n; i++) out[i] = bytes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES) as ChunkId;
  return out;
}
