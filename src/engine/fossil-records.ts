// Prune records on the storage, fossils/<name>: listing, reading, writing and deleting them. A
// name is the record's time in milliseconds and a random tag, so names sort by time and are never
// reused (local caches remember which names they have applied).

import { randomBytes } from 'node:crypto';
import { subKey } from '../crypto/keys.js';
import { isDbkError } from '../errors.js';
import { type FossilRecord, decodeFossilRecord, encodeFossilRecord } from '../format/fossil-collection.js';
import { ObjectKind, decodeObject, encodeObject } from '../format/object.js';
import type { Repository } from './repository.js';

export const FOSSIL_RECORDS_DIR = 'fossils';
const NAME = /^\d{13}-[0-9a-f]{8}$/;
const MAX_RECORD_BYTES = 1 << 30;

export const recordPath = (name: string) => `${FOSSIL_RECORDS_DIR}/${name}`;

/** Names of every prune record on the storage, oldest first. */
export async function listFossilRecords(repo: Repository): Promise<string[]> {
  const entries = await repo.backend.list(FOSSIL_RECORDS_DIR);
  return entries.filter((e) => !e.dir && NAME.test(e.name)).map((e) => e.name).sort();
}

export async function readFossilRecord(repo: Repository, name: string): Promise<FossilRecord> {
  const p = recordPath(name);
  const raw = await repo.backend.read(p);
  return decodeFossilRecord(decodeObject(raw, { kind: ObjectKind.FOSSIL_COLLECTION, maxLength: MAX_RECORD_BYTES, what: p, ...recordKey(repo) }), p);
}

/** Stores a record under a new name and returns the name. */
export async function writeFossilRecord(repo: Repository, record: FossilRecord): Promise<string> {
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
