// Prune, second half: carry out a plan, in the order that keeps every step safe if the process
// dies between two storage operations (a rerun then completes it):
//   step 2  for each ripe collection: write the deletion record (so caches stop vouching for
//           these chunks), bring back referenced fossils, delete the rest, drop the collection;
//   step 1  make fossils of chunks (or claim those that are fossils already), list the running
//           backups, write the collection record naming both, then delete the revision files;
//   -exclusive: record the deletion, delete the revision files, then the chunks: a crash between
//           them leaves unreferenced chunks, never a revision without its chunks.
// Every change goes to the prune log as it happens.

import pLimit from 'p-limit';
import { fossilize, resurrect } from '../catalog/fossil-moves.js';
import { deleteFossilRecord, writeFossilRecords } from '../catalog/fossil-records.js';
import { listRunningBackups, runningPath } from '../catalog/running-backups.js';
import { now } from '../clock.js';
import { DbkError } from '../errors.js';
import type { FossilRecord, RevisionRef } from '../format/fossil-collection.js';
import { type ChunkId, chunkPath, fossilPath } from '../format/ids.js';
import { deletedRevisionPath, revisionPath } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';
import type { PruneLog } from './prune-log.js';
import type { CollectionPlan, PrunePlan } from './prune-planner.js';

export interface PruneExecution {
  /** records written, fossils/<name> */
  recordsWritten: string[];
  fossilized: number;
  deletedChunks: number;
  resurrected: number;
  deletedRevisions: number;
}

interface Run {
  repo: Repository;
  plan: PrunePlan;
  log: PruneLog;
  ex: PruneExecution;
}

export async function executePrune(repo: Repository, plan: PrunePlan, log: PruneLog): Promise<PruneExecution> {
  const run: Run = { repo, plan, log, ex: { recordsWritten: [], fossilized: 0, deletedChunks: 0, resurrected: 0, deletedRevisions: 0 } };
  for (const c of plan.collections.filter((x) => x.ripe)) await completeCollection(run, c);
  await each(run, plan.resurrectOrphans, (id) => bringBack(run, id));
  const revisions = plan.deleteRevisions.map(({ snapshotId, revision }) => ({ snapshotId, revision }));
  if (plan.exclusive) await deleteAtOnce(run, revisions);
  else await collect(run, revisions);
  for (const name of plan.expiredRecords) {
    await deleteFossilRecord(repo, name);
    log.write(`removed expired record fossils/${name}`);
  }
  return run.ex;
}

async function each<T>(run: Run, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(run.repo.smallCalls);
  await Promise.all(items.map((x) => limit(() => fn(x))));
}

async function record(run: Run, r: FossilRecord): Promise<void> {
  for (const name of await writeFossilRecords(run.repo, r)) {
    run.ex.recordsWritten.push(name);
    run.log.write(`wrote record fossils/${name} (${r.kind})`);
  }
}

async function completeCollection(run: Run, c: CollectionPlan): Promise<void> {
  await record(run, { kind: 'deletion', time: now(), latest: run.plan.latest, deletedRevisions: [], completes: c.name, deleted: c.delete, resurrected: c.resurrect });
  await each(run, c.resurrect, (id) => bringBack(run, id));
  await each(run, c.delete, (id) => deleteFile(run, fossilPath(id), `deleted fossil ${id}`));
  await deleteFossilRecord(run.repo, c.name);
  run.log.write(`completed collection fossils/${c.name}`);
}

async function bringBack(run: Run, id: ChunkId): Promise<void> {
  const outcome = await resurrect(run.repo, id);
  if (outcome === 'lost') run.repo.log.warn(`fossil ${id} is referenced but neither it nor its chunk exists`);
  if (outcome !== 'resurrected') return;
  run.ex.resurrected++;
  run.log.write(`resurrected chunk ${id}`);
}

async function deleteFile(run: Run, p: string, what: string): Promise<void> {
  await run.repo.backend.delete(p);
  run.ex.deletedChunks++;
  run.log.write(what);
}

/** Step 1. */
async function collect(run: Run, revisions: RevisionRef[]): Promise<void> {
  const fossils = new Set<ChunkId>(run.plan.adoptFossils);
  await each(run, run.plan.fossilize, async (id) => {
    if ((await fossilize(run.repo, id)) === 'gone') return;
    fossils.add(id);
    run.ex.fossilized++;
    run.log.write(`marked fossil ${id}`);
  });
  if (fossils.size > 0) {
    // after the last fossil is made: a backup that could have seen one of them as a chunk is among these, or has finished
    const running = await listRunningBackups(run.repo);
    for (const name of running) run.log.write(`collection waits for running backup ${runningPath(name)}`);
    await record(run, { kind: 'collection', time: now(), latest: run.plan.latest, deletedRevisions: revisions, fossils: [...fossils], running });
  }
  await deleteRevisions(run, revisions);
}

/** -exclusive. */
async function deleteAtOnce(run: Run, revisions: RevisionRef[]): Promise<void> {
  const { plan } = run;
  const doomed = [...plan.fossilize, ...plan.adoptFossils];
  if (doomed.length > 0 || revisions.length > 0) {
    await record(run, { kind: 'deletion', time: now(), latest: plan.latest, deletedRevisions: revisions, completes: '', deleted: doomed, resurrected: [] });
  }
  await deleteRevisions(run, revisions);
  await each(run, plan.fossilize, (id) => deleteFile(run, chunkPath(id), `deleted chunk ${id}`));
  await each(run, plan.adoptFossils, (id) => deleteFile(run, fossilPath(id), `deleted fossil ${id}`));
}

/**
 * Deletes revision files. Deleting an id's newest revision (only -exclusive may) first leaves a
 * marker, so that its number is never given to another revision.
 */
async function deleteRevisions(run: Run, revisions: readonly RevisionRef[]): Promise<void> {
  const newest = new Map(run.plan.latest.map((r) => [r.snapshotId, r.revision]));
  for (const r of revisions) {
    if (newest.get(r.snapshotId) === r.revision) await run.repo.backend.write(deletedRevisionPath(r.snapshotId, r.revision), new Uint8Array(0)).catch(ignoreExisting);
    await run.repo.backend.delete(revisionPath(r.snapshotId, r.revision));
    run.ex.deletedRevisions++;
    run.log.write(`deleted revision ${r.revision} of ${r.snapshotId}`);
  }
}

function ignoreExisting(e: unknown): void {
  if (!(e instanceof DbkError && e.code === 'ALREADY_EXISTS')) throw e;
}
