// Prune records on the storage, fossils/<name>: listing, reading, writing and deleting them. A
// name is the record's time in milliseconds and a random tag, so names sort by time and are never
// reused (local caches remember which names they have applied).

import { randomBytes } from 'node:crypto';
import { subKey } from '../crypto/keys.js';
import { isDbkError } from '../errors.js';
import { decodeFossilRecord, encodeFossilRecord, type FossilRecord } from '../format/fossil-collection.js';
import { decodeObject, encodeObject, ObjectKind } from '../format/object.js';
import type { Repository } from '../storage/repository.js';

export const FOSSIL_RECORDS_DIR = 'fossils';
const NAME = /^\d{13}-[0-9a-f]{8}$/;
/** The most chunk ids one record lists (128 MiB of them); a larger prune writes several records. */
const IDS_PER_RECORD = 1 << 22;
/** What a reader allows a record to decompress to: its ids and a little more. */
const MAX_RECORD_BYTES = 160 << 20;

export const recordPath = (name: string) => `${FOSSIL_RECORDS_DIR}/${name}`;

/** Names of every prune record on the storage, oldest first. */
export async function listFossilRecords(repo: Repository): Promise<string[]> {
  const entries = await repo.backend.list(FOSSIL_RECORDS_DIR);
  return entries
    .filter((e) => !e.dir && NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}

export async function readFossilRecord(repo: Repository, name: string): Promise<FossilRecord> {
  const p = recordPath(name);
  const raw = await repo.backend.read(p);
  return decodeFossilRecord(decodeObject(raw, { kind: ObjectKind.FOSSIL_COLLECTION, maxLength: MAX_RECORD_BYTES, what: p, ...recordKey(repo) }), p);
}

/**
 * Stores a record, as several when it lists more ids than one may (each a record of its own kind
 * for a share of the ids: a collection in parts is collections that wait for the same backups),
 * and returns their names.
 */
export async function writeFossilRecords(repo: Repository, record: FossilRecord): Promise<string[]> {
  const names: string[] = [];
  for (const part of splitRecord(record)) names.push(await writeFossilRecord(repo, part));
  return names;
}

export function splitRecord(r: FossilRecord, idsPerRecord = IDS_PER_RECORD): FossilRecord[] {
  const slice = <T>(ids: readonly T[], i: number) => ids.slice(i * idsPerRecord, (i + 1) * idsPerRecord);
  const lists = r.kind === 'collection' ? [r.fossils] : [r.deleted, r.resurrected];
  const parts = Math.max(1, ...lists.map((l) => Math.ceil(l.length / idsPerRecord)));
  if (parts === 1) return [r];
  return Array.from({ length: parts }, (_, i) => {
    const revisions = i === 0 ? r.deletedRevisions : [];
    return r.kind === 'collection'
      ? { ...r, deletedRevisions: revisions, fossils: slice(r.fossils, i) }
      : { ...r, deletedRevisions: revisions, deleted: slice(r.deleted, i), resurrected: slice(r.resurrected, i) };
  });
}

/** Stores a record under a new name and returns the name. */
async function writeFossilRecord(repo: Repository, record: FossilRecord): Promise<string> {
  const data = encodeObject(encodeFossilRecord(record), { kind: ObjectKind.FOSSIL_COLLECTION, compressionLevel: repo.config.compressionLevel, ...recordKey(repo) });
  for (;;) {
    const name = `${String(record.time).padStart(13, '0')}-${randomBytes(4).toString('hex')}`;
    try {
      await repo.backend.write(recordPath(name), data);
      return name;
    } catch (e) {
      if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
    }
  }
}

export async function deleteFossilRecord(repo: Repository, name: string): Promise<void> {
  await repo.backend.delete(recordPath(name));
}

function recordKey(repo: Repository): { key?: Uint8Array } {
  const k = repo.config.keys.encryptionKey;
  return k ? { key: subKey(k, 'fossil record') } : {};
}
