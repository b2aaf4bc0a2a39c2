// Chunks that check -chunks downloaded and verified, by dictionary number, so that the next run
// only verifies chunks it has not seen. A chunk that a prune deletes is forgotten here (it may be
// uploaded again later, and that copy has not been verified).

import type { Db } from './cache-db.js';

export function verifiedChunks(db: Db): Uint8Array {
  const max = (db.prepare('SELECT MAX(n) FROM verified').pluck().get() as number | null) ?? -1;
  const flags = new Uint8Array(max + 1);
  for (const n of db.prepare('SELECT n FROM verified').pluck().iterate() as Iterable<number>) flags[n] = 1;
  return flags;
}

export function markVerified(db: Db, numbers: Iterable<number>): void {
  const put = db.prepare('INSERT OR IGNORE INTO verified (n) VALUES (?)');
  db.transaction(() => {
    for (const n of numbers) put.run(n);
  }).immediate();
}

export function forgetVerified(db: Db, numbers: Iterable<number>): void {
  const del = db.prepare('DELETE FROM verified WHERE n = ?');
  for (const n of numbers) del.run(n);
}
