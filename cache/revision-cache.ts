// The per-revision chunk-id cache. A revision never changes once written, so the set of chunks it
// references (data and metadata chunks, as dictionary numbers) is computed once and kept here
// with its summary (times, tag, file counts), and check and prune never download it again.
//
// Per snapshot id the cached revisions form a chain: the oldest holds its whole set, every later
// one only the change from the cached revision before it. A check walks the changes (about 1% of a
// revision each) instead of whole sets. Adding or dropping a revision in the middle re-bases only
// its neighbour, by composing change lists, so prune's bookkeeping follows the change size too.

import type { Statement } from 'better-sqlite3';
import { corrupt } from '../src/errors.js';
import type { Db } from './cache-db.js';
import { applyChange, composeChanges, decodeIntSet, diffIntSets, EMPTY_SET, encodeIntSet, type IntSet, type IntSetChange, invertChange } from './int-sets.js';

export interface RevisionSummary {
  /** milliseconds since the epoch */
  startTime: number;
  endTime: number;
  tag: string;
  /** files in the revision and their total size */
  fileCount: number;
  fileBytes: number;
}

export interface CachedRevision extends RevisionSummary {
  snapshotId: string;
  revision: number;
  /** size of snapshots/<id>/<revision> when it was cached (null: not known) */
  fileSize: number | null;
  /** distinct chunks the revision references */
  chunkCount: number;
}

/** One revision in a chain: the first link's change adds its whole set. */
export interface ChainLink {
  revision: number;
  change: IntSetChange;
}

interface Row {
  revision: number;
  base: number;
  start_time: number;
  chunk_count: number;
  added: Buffer;
  removed: Buffer;
}

const SUMMARY_COLUMNS = 'snapshot_id, revision, file_size, start_time, end_time, tag, file_count, file_bytes, chunk_count';

export class RevisionCache {
  /** the last set this process materialized per snapshot id: the next revision is usually diffed against it */
  private readonly recent = new Map<string, { revision: number; startTime: number; set: IntSet }>();

  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  private sql(text: string): Statement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  /** Every cached revision, ordered by snapshot id and revision. */
  list(): CachedRevision[] {
    const rows = this.sql(`SELECT ${SUMMARY_COLUMNS} FROM revisions ORDER BY snapshot_id, revision`).all() as Record<string, unknown>[];
    return rows.map(toCachedRevision);
  }

  get(snapshotId: string, revision: number): CachedRevision | undefined {
    const row = this.sql(`SELECT ${SUMMARY_COLUMNS} FROM revisions WHERE snapshot_id = ? AND revision = ?`).get(snapshotId, revision);
    return row ? toCachedRevision(row as Record<string, unknown>) : undefined;
  }

  /** The chain of every snapshot id (or of the ones named), revisions ascending. */
  chains(snapshotIds?: readonly string[]): Map<string, ChainLink[]> {
    const wanted = snapshotIds && new Set(snapshotIds);
    const out = new Map<string, ChainLink[]>();
    const rows = this.sql('SELECT snapshot_id, revision, base, added, removed FROM revisions ORDER BY snapshot_id, revision').iterate();
    for (const r of rows as Iterable<Row & { snapshot_id: string }>) {
      if (wanted && !wanted.has(r.snapshot_id)) continue;
      let chain = out.get(r.snapshot_id);
      if (!chain) out.set(r.snapshot_id, (chain = []));
      const prev = chain[chain.length - 1];
      checkLink(r.snapshot_id, r, prev?.revision ?? 0);
      chain.push({ revision: r.revision, change: decodeChange(r, r.snapshot_id) });
    }
    return out;
  }

  /** The whole chunk set of a cached revision. */
  setOf(snapshotId: string, revision: number): IntSet {
    const recent = this.recent.get(snapshotId);
    const usable = recent && recent.revision <= revision && this.stillCached(snapshotId, recent) ? recent : undefined;
    if (usable?.revision === revision) return usable.set;
    let set: IntSet = EMPTY_SET;
    let prev = 0;
    let rows = usable ? this.rows(snapshotId, usable.revision, revision) : [];
    if (usable && rows[0]?.base === usable.revision) {
      set = usable.set;
      prev = usable.revision;
    } else {
      rows = this.rows(snapshotId, 0, revision);
    }
    for (const r of rows) {
      checkLink(snapshotId, r, prev);
      set = r.base === 0 ? decodeIntSet(r.added, 'cache revision set') : applyChange(set, decodeChange(r, snapshotId));
      prev = r.revision;
    }
    const last = rows[rows.length - 1];
    if (!last || prev !== revision) throw corrupt('cache revisions', `revision ${revision} of ${snapshotId} is not cached`);
    this.remember(snapshotId, last, set);
    return set;
  }

  /** Caches a revision's chunk set (sorted, distinct numbers), replacing any entry of that number. */
  add(snapshotId: string, revision: number, set: IntSet, summary: RevisionSummary, fileSize: number | null): void {
    this.db
      .transaction(() => {
        this.removeOne(snapshotId, revision);
        const { pred, succ } = this.neighbours(snapshotId, revision);
        const change = pred === undefined ? { added: set, removed: EMPTY_SET } : diffIntSets(this.setOf(snapshotId, pred), set);
        this.sql(`INSERT INTO revisions (${SUMMARY_COLUMNS}, base, added, removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
          snapshotId,
          revision,
          fileSize,
          summary.startTime,
          summary.endTime,
          summary.tag,
          summary.fileCount,
          summary.fileBytes,
          set.length,
          pred ?? 0,
          encodeIntSet(change.added),
          encodeIntSet(change.removed),
        );
        if (succ !== undefined) {
          const s = this.row(snapshotId, succ)!;
          const next = s.base === 0 ? diffIntSets(set, decodeIntSet(s.added, 'cache revision set')) : composeChanges(invertChange(change), decodeChange(s, snapshotId));
          this.rewrite(snapshotId, succ, revision, next);
        }
        this.remember(snapshotId, { revision, start_time: summary.startTime, chunk_count: set.length }, set);
      })
      .immediate();
  }

  /** Drops revisions from the cache, re-basing the revision after each. */
  remove(snapshotId: string, revisions: Iterable<number>): void {
    this.db
      .transaction(() => {
        for (const r of revisions) this.removeOne(snapshotId, r);
      })
      .immediate();
  }

  setFileSize(snapshotId: string, revision: number, fileSize: number): void {
    this.sql('UPDATE revisions SET file_size = ? WHERE snapshot_id = ? AND revision = ?').run(fileSize, snapshotId, revision);
  }

  private removeOne(snapshotId: string, revision: number): void {
    const r = this.row(snapshotId, revision);
    if (!r) return;
    this.recent.delete(snapshotId);
    const { succ } = this.neighbours(snapshotId, revision);
    if (succ !== undefined) {
      const s = this.row(snapshotId, succ)!;
      checkLink(snapshotId, s, revision);
      const own = decodeChange(r, snapshotId);
      if (r.base === 0) {
        this.rewrite(snapshotId, succ, 0, { added: applyChange(own.added, decodeChange(s, snapshotId)), removed: EMPTY_SET });
      } else {
        this.rewrite(snapshotId, succ, r.base, composeChanges(own, decodeChange(s, snapshotId)));
      }
    }
    this.sql('DELETE FROM revisions WHERE snapshot_id = ? AND revision = ?').run(snapshotId, revision);
  }

  private rewrite(snapshotId: string, revision: number, base: number, change: IntSetChange): void {
    this.db
      .prepare('UPDATE revisions SET base = ?, added = ?, removed = ? WHERE snapshot_id = ? AND revision = ?')
      .run(base, encodeIntSet(change.added), encodeIntSet(change.removed), snapshotId, revision);
  }

  private neighbours(snapshotId: string, revision: number): { pred?: number; succ?: number } {
    const pred = this.sql('SELECT MAX(revision) FROM revisions WHERE snapshot_id = ? AND revision < ?').pluck().get(snapshotId, revision);
    const succ = this.sql('SELECT MIN(revision) FROM revisions WHERE snapshot_id = ? AND revision > ?').pluck().get(snapshotId, revision);
    return { ...(pred == null ? {} : { pred: pred as number }), ...(succ == null ? {} : { succ: succ as number }) };
  }

  private row(snapshotId: string, revision: number): Row | undefined {
    return this.sql('SELECT revision, base, start_time, chunk_count, added, removed FROM revisions WHERE snapshot_id = ? AND revision = ?').get(snapshotId, revision) as Row | undefined;
  }

  /** Rows of revisions after `after` up to `upTo`, ascending. */
  private rows(snapshotId: string, after: number, upTo: number): Row[] {
    return this.sql('SELECT revision, base, start_time, chunk_count, added, removed FROM revisions WHERE snapshot_id = ? AND revision > ? AND revision <= ? ORDER BY revision').all(
      snapshotId,
      after,
      upTo,
    ) as Row[];
  }

  /** Whether a remembered set's revision is still the one in the cache (not dropped, not replaced). */
  private stillCached(snapshotId: string, recent: { revision: number; startTime: number; set: IntSet }): boolean {
    const r = this.row(snapshotId, recent.revision);
    return r !== undefined && r.start_time === recent.startTime && r.chunk_count === recent.set.length;
  }

  private remember(snapshotId: string, r: Pick<Row, 'revision' | 'start_time' | 'chunk_count'>, set: IntSet): void {
    if (set.length !== r.chunk_count) throw corrupt('cache revisions', `revision ${r.revision} of ${snapshotId} decodes to the wrong size`);
    this.recent.set(snapshotId, { revision: r.revision, startTime: r.start_time, set });
  }
}

function checkLink(snapshotId: string, r: Pick<Row, 'revision' | 'base'>, prev: number): void {
  if (r.base !== prev) throw corrupt('cache revisions', `revision ${r.revision} of ${snapshotId} is based on ${r.base}, not ${prev}`);
}

function decodeChange(r: Pick<Row, 'added' | 'removed'>, snapshotId: string): IntSetChange {
  const what = `cache revision of ${snapshotId}`;
  return { added: decodeIntSet(r.added, what), removed: decodeIntSet(r.removed, what) };
}

function toCachedRevision(r: Record<string, unknown>): CachedRevision {
  return {
    snapshotId: r.snapshot_id as string,
    revision: r.revision as number,
    fileSize: (r.file_size as number | null) ?? null,
    startTime: r.start_time as number,
    endTime: r.end_time as number,
    tag: r.tag as string,
    fileCount: r.file_count as number,
    fileBytes: r.file_bytes as number,
    chunkCount: r.chunk_count as number,
  };
}
