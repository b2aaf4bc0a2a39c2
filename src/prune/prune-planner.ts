// Prune, first half: decide everything, change nothing. The plan says which revisions go (by
// retention), which earlier collections are ripe and what becomes of their fossils (step 2), and
// which chunks become fossils now (step 1), or are deleted at once with -exclusive.
//
// References come from the revision cache: every revision of every id is known there (loaded
// once, ever), and three walks over the change chains say which chunks any revision, the kept
// revisions and the deleted revisions reference. Only -exhaustive needs the chunk list.
//
// Step 2's rule: a collection is ripe once every backup that was running when its fossils were
// made (its announcements, engine/running-backups.ts) has gone. Such a backup has then written
// its revision or never will, so a fossil it uses is referenced by a revision on the storage and
// is brought back, not deleted. The running backups are listed before the revisions are, so that
// one finishing in between is seen at least as a revision. A fossil belongs to every pending
// collection that names it (a later prune that deletes a revision using it claims it too, since
// the backups that trust that revision may be running now) and is deleted only once all of them
// are ripe; no time of two hosts is ever compared.

import type { CachedRevision } from '../../cache/revision-cache.js';
import type { CacheSession } from '../catalog/cache-access.js';
import { type ListingInfo, obtainChunkListing } from '../catalog/chunk-listing.js';
import { walkChains } from '../catalog/chunk-stats.js';
import { recordPath } from '../catalog/fossil-records.js';
import type { RecordBook } from '../catalog/record-book.js';
import { listStorageRevisions, syncRevisions } from '../catalog/revision-sync.js';
import { describeRunning, type RunningBackup } from '../catalog/running-backups.js';
import type { FossilCollection, RevisionRef } from '../format/fossil-collection.js';
import type { ChunkId } from '../format/ids.js';
import type { Logger } from '../log.js';
import type { Repository } from '../storage/repository.js';
import { DAY_MS, type KeepPolicy, planRetention } from './retention.js';

/** Deletion records older than this are removed; caches with older chunk lists re-list (chunk-listing.ts). */
export const DELETION_RECORD_DAYS = 45;

/** For collections of dbk before announcements only: snapshot ids without a backup for this long do not hold them up. */
export const INACTIVE_AFTER_MS = 7 * DAY_MS;

export interface PruneRules {
  /** ids whose revisions retention applies to */
  snapshotIds: readonly string[];
  keep: readonly KeepPolicy[];
  revisions: readonly number[];
  tags: readonly string[];
  exhaustive: boolean;
  exclusive: boolean;
  collectOnly: boolean;
  deleteOnly: boolean;
  /** ids left out of the ripeness test of collections made before announcements */
  ignore: readonly string[];
  fromCache: boolean;
  now: number;
  /** the running backups, listed before the revisions */
  running: readonly RunningBackup[];
}

export interface RevisionDeletion extends RevisionRef {
  reason: string;
}

export interface CollectionPlan {
  /** the record, fossils/<name> */
  name: string;
  time: number;
  ripe: boolean;
  /** what it waits for: running backups it recorded that are still there (or, for an old collection, snapshot ids) */
  waitingFor: string[];
  /** fossils a revision references: renamed back into chunks */
  resurrect: ChunkId[];
  /** the other fossils: deleted */
  delete: ChunkId[];
}

export interface PrunePlan {
  now: number;
  exclusive: boolean;
  deleteRevisions: RevisionDeletion[];
  /** chosen by the rules but kept (the newest revision of an id) */
  spared: RevisionDeletion[];
  /** step 2: every pending collection, ripe or not */
  collections: CollectionPlan[];
  /** step 1: chunks that become fossils (with -exclusive: are deleted); a fossil among them is claimed */
  fossilize: ChunkId[];
  /** -exhaustive: fossils no pending collection names; unreferenced ones join this collection */
  adoptFossils: ChunkId[];
  /** -exhaustive: fossils no pending collection names that a revision references */
  resurrectOrphans: ChunkId[];
  /** the newest revision of every snapshot id before this prune */
  latest: RevisionRef[];
  /** deletion records old enough to go (no usable cached chunk list predates them) */
  expiredRecords: string[];
  /** -exhaustive: where the chunk list came from */
  listing?: ListingInfo;
}

export async function planPrune(repo: Repository, session: CacheSession, book: RecordBook, rules: PruneRules, onProgress?: (done: number, total: number) => void): Promise<PrunePlan> {
  const onStorage = await listStorageRevisions(repo);
  const cached = await syncRevisions(repo, session.revisions, session.numbering, onStorage, {
    load: new Set(onStorage.map((r) => r.snapshotId)),
    ...(onProgress ? { onProgress } : {}),
  });
  const byId = groupById(cached);
  const plan: PrunePlan = {
    now: rules.now,
    exclusive: rules.exclusive,
    deleteRevisions: [],
    spared: [],
    collections: [],
    fossilize: [],
    adoptFossils: [],
    resurrectOrphans: [],
    latest: [],
    expiredRecords: [],
  };
  plan.latest = [...byId].map(([snapshotId, revs]) => ({ snapshotId, revision: revs[revs.length - 1]!.revision }));
  if (!rules.deleteOnly) chooseRevisions(plan, byId, rules, repo.log);

  const gone = new Set(plan.deleteRevisions.map((r) => `${r.snapshotId}/${r.revision}`));
  const chains = session.revisions.chains();
  const none = new Uint32Array(0);
  const anyRef = walkChains(chains, none).referenced;
  const keptRef = walkChains(chains, none, (id, rev) => !gone.has(`${id}/${rev}`)).referenced;
  const pending: { name: string; record: FossilCollection }[] = [];
  for (const name of book.names) {
    const record = await book.get(name);
    if (!record) continue; // damaged: its fossils are fossils no collection names (see record-book.ts)
    if (record.kind === 'collection') pending.push({ name, record });
    else if (record.time < rules.now - DELETION_RECORD_DAYS * DAY_MS) plan.expiredRecords.push(name);
  }
  if (!rules.collectOnly) {
    for (const { name, record } of pending) plan.collections.push(planCollection(name, record, byId, rules));
    if (!rules.exclusive) waitForDamagedRecords(plan.collections, book);
    assignFossils(session, plan.collections, pending, anyRef);
  }
  if (rules.deleteOnly) return plan;

  const deletedRef = walkChains(chains, none, (id, rev) => gone.has(`${id}/${rev}`)).referenced;
  const onlyDeleted = (n: number) => deletedRef[n] === 1 && keptRef[n] !== 1;
  if (!rules.exhaustive) {
    plan.fossilize = idsWhere(session, deletedRef.length, onlyDeleted);
    return plan;
  }
  const { listing, info } = await obtainChunkListing(repo, session.cache, book, { fromCache: rules.fromCache, log: repo.log });
  plan.listing = info;
  const length = Math.max(listing.chunkSizes.length, deletedRef.length);
  plan.fossilize = idsWhere(session, length, (n) => (listing.chunkSize(n) !== undefined && keptRef[n] !== 1) || onlyDeleted(n));
  const collected = new Set(pending.flatMap((p) => p.record.fossils));
  const orphans = listing.numbers('fossils');
  const orphanIds = session.cache.chunkIdsAt(orphans) as ChunkId[];
  orphans.forEach((n, i) => {
    const id = orphanIds[i]!;
    if (collected.has(id)) return;
    if (anyRef[n] === 1) plan.resurrectOrphans.push(id);
    else if (keptRef[n] !== 1) plan.adoptFossils.push(id);
  });
  return plan;
}

function groupById(cached: readonly CachedRevision[]): Map<string, CachedRevision[]> {
  const byId = new Map<string, CachedRevision[]>();
  for (const r of cached) byId.set(r.snapshotId, [...(byId.get(r.snapshotId) ?? []), r]);
  return byId;
}

function chooseRevisions(plan: PrunePlan, byId: ReadonlyMap<string, CachedRevision[]>, rules: PruneRules, log: Logger): void {
  const exists = (n: number) => rules.snapshotIds.some((id) => byId.get(id)?.some((r) => r.revision === n));
  const absent = rules.revisions.filter((n) => !exists(n));
  // a warning, not an error: the same prune run again after a crash finds them deleted already
  if (absent.length > 0) log.warn(`no revision ${absent.join(', ')} of ${rules.snapshotIds.map((id) => `'${id}'`).join(', ')} (deleted already?)`);
  for (const snapshotId of rules.snapshotIds) {
    const revs = byId.get(snapshotId) ?? [];
    const r = planRetention(revs, { keep: rules.keep, revisions: rules.revisions, tags: rules.tags, exclusive: rules.exclusive, now: rules.now });
    plan.deleteRevisions.push(...r.delete.map((d) => ({ snapshotId, ...d })));
    plan.spared.push(...r.spared.map((d) => ({ snapshotId, ...d })));
  }
}

/** Step 2 for one collection: ripe once every backup running when it was made has gone. */
function planCollection(name: string, c: FossilCollection, byId: ReadonlyMap<string, CachedRevision[]>, rules: PruneRules): CollectionPlan {
  const waitingFor = rules.exclusive ? [] : c.running ? runningOf(c.running, rules.running) : waitingByRevisions(c, byId, rules);
  return { name, time: c.time, ripe: waitingFor.length === 0, waitingFor, resurrect: [], delete: [] };
}

function runningOf(recorded: readonly string[], running: readonly RunningBackup[]): string[] {
  const names = new Set(recorded);
  return running.filter((r) => names.has(r.name)).map(describeRunning);
}

/**
 * The classic rule, for collections made by dbk before announcements: every id active in the
 * last week has a revision finished after the collection, and no backup is running now.
 */
function waitingByRevisions(c: FossilCollection, byId: ReadonlyMap<string, CachedRevision[]>, rules: PruneRules): string[] {
  const waitingFor = rules.running.map(describeRunning);
  for (const [id, revs] of byId) {
    const newest = revs[revs.length - 1]!;
    if (rules.ignore.includes(id) || newest.endTime < rules.now - INACTIVE_AFTER_MS) continue;
    const before = c.latest.find((l) => l.snapshotId === id)?.revision ?? 0;
    if (!revs.some((r) => r.revision > before && r.endTime > c.time)) waitingFor.push(`a new revision of ${id}`);
  }
  return waitingFor;
}

/**
 * A record that cannot be read may be a collection that claims some of the same fossils, waiting
 * for backups still running: until it can be read or is removed, no collection is completed.
 */
function waitForDamagedRecords(plans: CollectionPlan[], book: RecordBook): void {
  if (book.damaged.size === 0) return;
  const unreadable = [...book.damaged.keys()].map((name) => `${recordPath(name)} to be readable or removed`);
  for (const plan of plans) {
    plan.ripe = false;
    plan.waitingFor.push(...unreadable);
  }
}

/**
 * What ripe collections do with their fossils: a fossil any revision references is brought back;
 * one that a collection still waiting also names is left to that one; of several ripe
 * collections naming one fossil, the last deletes it.
 */
function assignFossils(session: CacheSession, plans: CollectionPlan[], pending: readonly { record: FossilCollection }[], anyRef: Uint8Array): void {
  const lastRipe = new Map<ChunkId, number>();
  const heldBack = new Set<ChunkId>();
  pending.forEach(({ record }, i) => {
    for (const id of record.fossils) {
      if (plans[i]!.ripe) lastRipe.set(id, i);
      else heldBack.add(id);
    }
  });
  const dict = session.cache.dictionary();
  pending.forEach(({ record }, i) => {
    const plan = plans[i]!;
    if (!plan.ripe) return;
    for (const id of record.fossils) {
      const n = dict.findHex(id);
      if (n >= 0 && anyRef[n] === 1) plan.resurrect.push(id);
      else if (!heldBack.has(id) && lastRipe.get(id) === i) plan.delete.push(id);
    }
  });
}

function idsWhere(session: CacheSession, length: number, test: (n: number) => boolean): ChunkId[] {
  const numbers: number[] = [];
  for (let n = 0; n < length; n++) if (test(n)) numbers.push(n);
  return session.cache.chunkIdsAt(numbers) as ChunkId[];
}
