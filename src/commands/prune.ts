// dbk prune: delete revisions by retention policy or by number or tag, and the chunks only they
// used, in two steps that are safe while other clients back up (see engine/prune-executor.ts).
// Plan first, then execute; a dry run is the plan. Every run leaves a log in .dbk/logs/.

import { type CacheSession, withStorageCache } from '../catalog/cache-access.js';
import { RecordBook } from '../catalog/record-book.js';
import { describeRunning, runningBackups } from '../catalog/running-backups.js';
import { now as clock } from '../clock.js';
import { DbkError, usage } from '../errors.js';
import { executePrune, type PruneExecution } from '../prune/prune-executor.js';
import { PruneLog } from '../prune/prune-log.js';
import { type PrunePlan, planPrune } from '../prune/prune-planner.js';
import type { KeepPolicy } from '../prune/retention.js';
import { boolSetting } from '../settings.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export type { CollectionPlan, PrunePlan, RevisionDeletion } from '../prune/prune-planner.js';

export interface PruneOptions extends OpenOptions {
  /** every snapshot id (default: the repository's own) */
  all?: boolean;
  /** this snapshot id */
  snapshotId?: string;
  /** delete these revisions */
  revisions?: number[];
  /** delete revisions with these tags */
  tags?: string[];
  /** -keep n:m policies, in any order */
  keep?: KeepPolicy[];
  /** consider every chunk on the storage, not only those of deleted revisions */
  exhaustive?: boolean;
  /** no other client runs: delete at once, no fossils (and the newest revision may go) */
  exclusive?: boolean;
  /** only step 1 */
  collectOnly?: boolean;
  /** only step 2 */
  deleteOnly?: boolean;
  /** plan and report; change nothing on the storage */
  dryRun?: boolean;
  /** snapshot ids left out of the "every id has a new revision" test of collections made by dbk before announcements */
  ignore?: string[];
  /** with exhaustive: the chunk list from the local cache (default: the prune_reads_chunk_filelist_from_cache_only setting) */
  fromCache?: boolean;
  /** milliseconds since the epoch to plan for (default: now); for tests and reproducible plans */
  now?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PruneResult {
  plan: PrunePlan;
  dryRun: boolean;
  /** undefined on a dry run */
  execution?: PruneExecution;
  /** the prune log */
  logFile: string;
}

export async function prune(o: PruneOptions): Promise<PruneResult> {
  if (o.collectOnly && o.deleteOnly) throw usage('-collect-only and -delete-only exclude each other');
  const repo = await Repository.open(o);
  try {
    if (o.exclusive && !o.dryRun) repo.log.warn('exclusive prune: chunks are deleted at once; no other client may back up to this storage while it runs');
    return await withStorageCache(repo, (session) => runPrune(repo, session, o));
  } finally {
    await repo.close();
  }
}

async function runPrune(repo: Repository, session: CacheSession, o: PruneOptions): Promise<PruneResult> {
  const now = o.now ?? clock();
  // before the revisions are listed: a backup that finishes in between is seen as one or the other
  const running = await runningBackups(repo, { removeDead: !o.dryRun });
  if (o.exclusive && running.length > 0) {
    throw new DbkError('CONFIG', `-exclusive needs every other client stopped, and a backup is running: ${running.map(describeRunning).join('; ')}`, {
      hint: 'wait for it to finish; if it died on another machine, delete that file from the storage',
    });
  }
  const book = await RecordBook.open(repo);
  await book.applyToRevisionCache(session.cache);
  const plan = await planPrune(
    repo,
    session,
    book,
    {
      snapshotIds: o.all ? await repo.listSnapshotIds() : [o.snapshotId ?? repo.snapshotId],
      keep: o.keep ?? [],
      revisions: o.revisions ?? [],
      tags: o.tags ?? [],
      exhaustive: o.exhaustive ?? false,
      exclusive: o.exclusive ?? false,
      collectOnly: o.collectOnly ?? false,
      deleteOnly: o.deleteOnly ?? false,
      ignore: o.ignore ?? [],
      fromCache: o.fromCache ?? boolSetting(repo.settings, 'prune_reads_chunk_filelist_from_cache_only', false),
      now,
      running,
    },
    (done, total) => {
      o.signal?.throwIfAborted();
      o.onProgress?.(done, total);
    },
  );
  // the last moment a cancel stops it: from here on it changes the storage, and runs to its end
  // (a kill is safe at any moment; a cancel waits for a consistent end)
  o.signal?.throwIfAborted();
  const log = new PruneLog(repo.repoDir, now, o.dryRun ?? false);
  log.writeAll(describePlan(plan, { dryRun: o.dryRun ?? false, eachChunk: true }));
  const result: PruneResult = { plan, dryRun: o.dryRun ?? false, logFile: log.file };
  if (o.dryRun) return result;
  result.execution = await executePrune(repo, plan, log);
  // the records just written say what changed: the cache learns it the way any client would
  await book.refresh();
  await book.applyToRevisionCache(session.cache);
  return result;
}

/**
 * The plan as lines, one at a time: the log gets every chunk (`eachChunk`), a terminal the
 * counts. A prune of millions of chunks is millions of lines, never held at once.
 */
export function* describePlan(plan: PrunePlan, o: { dryRun?: boolean; eachChunk?: boolean } = {}): Generator<string> {
  yield `prune at ${new Date(plan.now).toISOString()}${o.dryRun ? ' (dry run: nothing is changed)' : ''}${plan.exclusive ? ' (exclusive)' : ''}`;
  for (const r of plan.deleteRevisions) yield `delete revision ${r.revision} of ${r.snapshotId}: ${r.reason}`;
  for (const r of plan.spared) yield `keep revision ${r.revision} of ${r.snapshotId}: ${r.reason}`;
  for (const c of plan.collections) {
    if (c.ripe) yield `collection ${c.name}: delete ${c.delete.length} fossils, resurrect ${c.resurrect.length}`;
    else yield `collection ${c.name}: waiting for ${c.waitingFor.join(', ')}`;
  }
  const verb = plan.exclusive ? 'delete' : 'fossilize';
  yield `${verb} ${plan.fossilize.length} chunks`;
  if (o.eachChunk) for (const id of plan.fossilize) yield `  ${verb} chunk ${id}`;
  if (plan.adoptFossils.length > 0) yield `${plan.exclusive ? 'delete' : 'collect'} ${plan.adoptFossils.length} fossils no collection names`;
  if (plan.resurrectOrphans.length > 0) yield `resurrect ${plan.resurrectOrphans.length} referenced fossils no collection names`;
}
