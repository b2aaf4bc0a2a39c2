// Prune, second half: carry out a plan, in the order that keeps every step safe if the process
// dies between two storage operations:
//   step 2  for each ripe collection: write the deletion record (so caches stop vouching for
//           these chunks), bring back referenced fossils, delete the rest, drop the collection;
//   step 1  rename chunks to fossils, then write the collection record (its time, after the last
//           rename, is what step 2 waits on), then delete the revision files;
//   -exclusive: record the deletion, delete chunks and revision files at once.
// Every change goes to the prune log as it happens.

import pLimit from 'p-limit';
import { isDbkError } from '../errors.js';
import type { FossilRecord, RevisionRef } from '../format/fossil-collection.js';
import { type ChunkId, chunkPath, fossilPath } from '../format/ids.js';
import { revisionPath } from '../format/revision.js';
import { deleteFossilRecord, writeFossilRecord } from './fossil-records.js';
import type { PruneLog } from './prune-log.js';
import type { CollectionPlan, PrunePlan } from './prune-planner.js';
import type { Repository } from './repository.js';

export interface PruneExecution {
  /** records written, fossils/<name> */
  recordsWritten: string[];
  fossilized: number;
  deletedChunks: number;
  resurrected: number;
  deletedRevisions: number;
}

export async function executePrune(repo: Repository, plan: PrunePlan, log: PruneLog): Promise<PruneExecution> {
  const ex: PruneExecution = { recordsWritten: [], fossilized: 0, deletedChunks: 0, resurrected: 0, deletedRevisions: 0 };
  const each = <T>(items: readonly T[], fn: (item: T) => Promise<void>) => {
    const limit = pLimit(repo.threads);
    return Promise.all(items.map((x) => limit(() => fn(x))));
  };
  const record = async (r: FossilRecord) => {
    const name = await writeFossilRecord(repo, r);
    ex.recordsWritten.push(name);
    log.write(`wrote record fossils/${name} (${r.kind})`);
  };

  for (const c of plan.collections.filter((x) => x.ripe)) await completeCollection(repo, c, plan, ex, log, each, record);
  await each(plan.resurrectOrphans, async (id) => {
    if (await resurrect(repo, id, log)) ex.resurrected++;
  });

  const revisions = plan.deleteRevisions.map(({ snapshotId, revision }) => ({ snapshotId, revision }));
  if (plan.exclusive) {
    const doomed = [...plan.fossilize, ...plan.adoptFossils];
    if (doomed.length > 0 || revisions.length > 0) {
      await record({ kind: 'deletion', time: Date.now(), latest: plan.latest, deletedRevisions: revisions, completes: '', deleted: doomed, resurrected: [] });
    }
    await each(plan.fossilize, async (id) => {
      await repo.backend.delete(chunkPath(id));
      ex.deletedChunks++;
      log.write(`deleted chunk ${id}`);
    });
    await each(plan.adoptFossils, async (id) => {
      await repo.backend.delete(fossilPath(id));
      ex.deletedChunks++;
      log.write(`deleted fossil ${id}`);
    });
  } else {
    const fossils: ChunkId[] = [...plan.adoptFossils];
    await each(plan.fossilize, async (id) => {
      if (await fossilize(repo, id)) {
        fossils.push(id);
        ex.fossilized++;
        log.write(`marked fossil ${id}`);
      }
    });
    if (fossils.length > 0) await record({ kind: 'collection', time: Date.now(), latest: plan.latest, deletedRevisions: revisions, fossils });
  }
  await deleteRevisions(repo, revisions, ex, log);
  for (const name of plan.expiredRecords) {
    await deleteFossilRecord(repo, name);
    log.write(`removed expired record fossils/${name}`);
  }
  return ex;
}

async function completeCollection(
  repo: Repository,
  c: CollectionPlan,
  plan: PrunePlan,
  ex: PruneExecution,
  log: PruneLog,
  each: <T>(items: readonly T[], fn: (item: T) => Promise<void>) => Promise<unknown>,
  record: (r: FossilRecord) => Promise<void>,
): Promise<void> {
  await record({ kind: 'deletion', time: Date.now(), latest: plan.latest, deletedRevisions: [], completes: c.name, deleted: c.delete, resurrected: c.resurrect });
  await each(c.resurrect, async (id) => {
    if (await resurrect(repo, id, log)) ex.resurrected++;
  });
  await each(c.delete, async (id) => {
    await repo.backend.delete(fossilPath(id));
    ex.deletedChunks++;
    log.write(`deleted fossil ${id}`);
  });
  await deleteFossilRecord(repo, c.name);
  log.write(`completed collection fossils/${c.name}`);
}

/** Renames a chunk to its fossil; false when there was no such chunk. */
async function fossilize(repo: Repository, id: ChunkId): Promise<boolean> {
  try {
    await repo.backend.rename(chunkPath(id), fossilPath(id));
    return true;
  } catch (e) {
    if (isDbkError(e, 'NOT_FOUND')) return false; // already a fossil, or gone
    if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
    await repo.backend.delete(chunkPath(id)); // the fossil holds the same bytes
    return true;
  }
}

/** Renames a fossil back to its chunk; false when there was no such fossil. */
async function resurrect(repo: Repository, id: ChunkId, log: PruneLog): Promise<boolean> {
  try {
    await repo.backend.rename(fossilPath(id), chunkPath(id));
  } catch (e) {
    if (isDbkError(e, 'NOT_FOUND')) {
      if (!(await repo.backend.stat(chunkPath(id)))) repo.log.warn(`fossil ${id} is referenced but neither it nor its chunk exists`);
      return false;
    }
    if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
    await repo.backend.delete(fossilPath(id)); // a backup uploaded the chunk again meanwhile
  }
  log.write(`resurrected chunk ${id}`);
  return true;
}

async function deleteRevisions(repo: Repository, revisions: readonly RevisionRef[], ex: PruneExecution, log: PruneLog): Promise<void> {
  for (const r of revisions) {
    await repo.backend.delete(revisionPath(r.snapshotId, r.revision));
    ex.deletedRevisions++;
    log.write(`deleted revision ${r.revision} of ${r.snapshotId}`);
  }
}
