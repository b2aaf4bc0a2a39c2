// Which prune records (fossils/<name> on the storage) a part of the cache has already taken into
// account. A record tells of chunks renamed or deleted and revisions deleted; a cache that has not
// seen it may hold a stale picture, so each scope applies every record it has not seen, once.
//   'chunks'    the chunk list (replaced wholesale with each fresh listing)
//   'revisions' the revision chunk sets and verified chunks

import type { Db } from './cache-db.js';

export type JournalScope = 'chunks' | 'revisions';

export function appliedRecords(db: Db, scope: JournalScope): Set<string> {
  return new Set(db.prepare('SELECT name FROM journal WHERE scope = ?').pluck().all(scope) as string[]);
}

/** Notes records as applied; call inside the transaction that applied them. */
export function markRecordsApplied(db: Db, scope: JournalScope, names: Iterable<string>): void {
  const put = db.prepare('INSERT OR IGNORE INTO journal (scope, name) VALUES (?, ?)');
  for (const name of names) put.run(scope, name);
}

/** Forgets names that are no longer on the storage, so the table does not grow forever. */
export function forgetRecordsExcept(db: Db, scope: JournalScope, present: ReadonlySet<string>): void {
  const gone = [...appliedRecords(db, scope)].filter((n) => !present.has(n));
  const del = db.prepare('DELETE FROM journal WHERE scope = ? AND name = ?');
  db.transaction(() => {
    for (const n of gone) del.run(scope, n);
  }).immediate();
}

export function replaceAppliedRecords(db: Db, scope: JournalScope, names: Iterable<string>): void {
  db.prepare('DELETE FROM journal WHERE scope = ?').run(scope);
  markRecordsApplied(db, scope, names);
}
