// dbk check: are the chunks the chosen revisions reference on the storage, and (with -chunks,
// -files) are they intact; with -stats/-tabular, what each revision and snapshot id holds.
//
// The work follows the caches: revisions come from the per-revision cache (loaded from the
// storage once, ever), the chunk list from one listing (or the cached one), and every figure
// from one walk over the revisions' change lists. Findings are returned as data; the caller
// decides what they mean for the exit code.

import type { CachedRevision } from '../../cache/revision-cache.js';
import { type CacheSession, withStorageCache } from '../catalog/cache-access.js';
import { type ListingInfo, obtainChunkListing, spotCheckListing } from '../catalog/chunk-listing.js';
import { type ChainWalk, type ChunkCounts, type RevisionChunkStats, walkChains } from '../catalog/chunk-stats.js';
import { recordPath } from '../catalog/fossil-records.js';
import { RecordBook } from '../catalog/record-book.js';
import { listStorageRevisions, syncRevisions } from '../catalog/revision-sync.js';
import { type ChunkFinding, describeFindings, findAbsentChunks } from '../check/chunk-problems.js';
import { type RevisionFinding, verifyChunks } from '../check/chunk-verifier.js';
import { type FileFinding, verifyFiles } from '../check/file-verifier.js';
import { DbkError } from '../errors.js';
import type { RevisionRef } from '../format/fossil-collection.js';
import { boolSetting } from '../settings.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface CheckOptions extends OpenOptions {
  /** every snapshot id (default: the repository's own) */
  all?: boolean;
  /** this snapshot id */
  snapshotId?: string;
  /** only these revisions (default: all) */
  revisions?: number[];
  /** only revisions with this tag */
  tag?: string;
  /** rename referenced fossils back into chunks (a referenced fossil is otherwise a warning: step 2 of the prune that made it brings it back) */
  resurrect?: boolean;
  /** rebuild every file and compare its hash */
  files?: boolean;
  /** download and verify every referenced chunk not verified before */
  chunks?: boolean;
  /** per-revision and per-id statistics; implies all ids and all revisions */
  stats?: boolean;
  /** go on after errors and report every affected file */
  persist?: boolean;
  /** read the chunk list from the local cache (default: the check_reads_chunk_filelist_from_cache_only setting) */
  fromCache?: boolean;
  onProgress?: (p: CheckProgress) => void;
}

export interface CheckProgress {
  phase: 'revisions' | 'listing' | 'chunks' | 'files';
  done: number;
  total?: number;
}

/** A prune record that cannot be read: passed over, safely (see engine/record-book.ts), and named. */
export interface RecordFinding {
  kind: 'record';
  severity: 'warning';
  /** fossils/<name> */
  path: string;
  detail: string;
}

export type CheckFinding = ChunkFinding | FileFinding | RevisionFinding | RecordFinding;

export interface RevisionStats extends RevisionChunkStats {
  startTime: number;
  endTime: number;
  tag: string;
  files: number;
  fileBytes: number;
}

export interface SnapshotStats {
  snapshotId: string;
  revisions: RevisionStats[];
  /** the `all` row: distinct chunks of the id; unique = not shared with any other id */
  all: ChunkCounts;
}

export interface CheckResult {
  /** no finding of severity 'error' */
  ok: boolean;
  findings: CheckFinding[];
  /** the revisions checked */
  revisions: RevisionRef[];
  /** distinct chunks they reference */
  referencedChunks: number;
  listing: ListingInfo;
  /** with -chunks */
  chunks?: { verified: number; alreadyVerified: number };
  /** with -files: files rebuilt and matched */
  verifiedFiles?: number;
  /** with -stats or -tabular */
  stats?: SnapshotStats[];
}

export async function check(o: CheckOptions): Promise<CheckResult> {
  const repo = await Repository.open(o);
  try {
    return await withStorageCache(repo, (session) => runCheck(repo, session, o));
  } finally {
    await repo.close();
  }
}

async function runCheck(repo: Repository, session: CacheSession, o: CheckOptions): Promise<CheckResult> {
  const { cache } = session;
  const book = await RecordBook.open(repo);
  await book.applyToRevisionCache(cache);
  const onStorage = await listStorageRevisions(repo);
  const ids = o.all || o.stats ? [...new Set(onStorage.map((r) => r.snapshotId))] : [o.snapshotId ?? repo.snapshotId];
  const progress = (phase: CheckProgress['phase']) => (done: number, total?: number) => o.onProgress?.({ phase, done, ...(total === undefined ? {} : { total }) });
  const unreadable: RevisionFinding[] = [];
  const cached = await syncRevisions(repo, session.revisions, session.numbering, onStorage, {
    load: new Set(ids),
    onUnreadable: (r, e) => unreadable.push({ kind: 'revision', severity: 'error', snapshotId: r.snapshotId, revision: r.revision, detail: `cannot be read: ${e.message}` }),
    onProgress: progress('revisions'),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const chosen = chooseRevisions(cached, ids, o, unreadable);
  const isChosen = new Set(chosen.map((r) => `${r.snapshotId}/${r.revision}`));
  const chains = session.revisions.chains(ids);

  const walkChosen = (sizes: Uint32Array) => walkChains(chains, sizes, (id, rev) => isChosen.has(`${id}/${rev}`));
  const { listing, info, walk: first } = await chunkListingFor(repo, session, book, walkChosen, o);
  let walk = first;
  const absent = await findAbsentChunks(repo, cache, listing, walk.referenced, { resurrect: o.resurrect ?? false });
  if (absent.lookedUp > 0) {
    // what the direct lookups found is kept, so the next check need not look again, and counted
    cache.saveListing(listing, cache.appliedRecords('chunks'));
    if (o.stats) walk = walkChosen(listing.chunkSizes);
  }
  const problems = absent.findings;

  const result: CheckResult = {
    ok: true,
    findings: [...unreadable],
    revisions: chosen.map(({ snapshotId, revision }) => ({ snapshotId, revision })),
    referencedChunks: count(walk.referenced),
    listing: info,
  };
  if (o.chunks) {
    const v = await verifyChunks(repo, session, chosen, walk.referenced, problems, { persist: o.persist ?? false, onProgress: progress('chunks'), ...(o.signal ? { signal: o.signal } : {}) });
    for (const [n, f] of v.chunkFindings) problems.set(n, f);
    result.findings.push(...v.revisionFindings);
    result.chunks = { verified: v.verified, alreadyVerified: v.alreadyVerified };
  }
  await describeFindings(repo, chains, problems, o.persist ?? false);
  result.findings.unshift(...problems.values());
  if (o.files) {
    const v = await verifyFiles(repo, result.revisions, { persist: o.persist ?? false, onProgress: progress('files'), ...(o.signal ? { signal: o.signal } : {}) });
    result.findings.push(...v.findings);
    result.verifiedFiles = v.verified;
  }
  if (o.stats) result.stats = statsTable(walk.stats, cached);
  for (const [name, detail] of book.damaged) result.findings.push({ kind: 'record', severity: 'warning', path: recordPath(name), detail });
  result.ok = result.findings.every((f) => f.severity !== 'error');
  return result;
}

/** The chunk list (fresh, or cached and spot-checked) and the walk over it. */
async function chunkListingFor(repo: Repository, session: CacheSession, book: RecordBook, walkChosen: (sizes: Uint32Array) => ChainWalk, o: CheckOptions) {
  const fromCache = o.fromCache ?? boolSetting(repo.settings, 'check_reads_chunk_filelist_from_cache_only', false);
  const options = (cached: boolean) => ({ fromCache: cached, log: repo.log, onProgress: (done: number) => o.onProgress?.({ phase: 'listing', done }), ...(o.signal ? { signal: o.signal } : {}) });
  const got = await obtainChunkListing(repo, session.cache, book, options(fromCache));
  const walk = walkChosen(got.listing.chunkSizes);
  const stale = got.info.source === 'cache' ? await spotCheckListing(repo, session.cache, got.listing, walk.referenced) : undefined;
  if (!stale) return { ...got, walk };
  repo.log.warn(`the cached chunk list is out of date (it lists chunk ${stale}, which is not on the storage): listing the storage`);
  const fresh = await obtainChunkListing(repo, session.cache, book, options(false));
  return { ...fresh, walk: walkChosen(fresh.listing.chunkSizes) };
}

function chooseRevisions(cached: readonly CachedRevision[], ids: readonly string[], o: CheckOptions, unreadable: readonly RevisionRef[]): CachedRevision[] {
  const wanted = new Set(ids);
  const numbers = !o.stats && o.revisions?.length ? new Set(o.revisions) : undefined;
  const chosen = cached.filter((r) => wanted.has(r.snapshotId) && (!numbers || numbers.has(r.revision)) && (o.stats || o.tag === undefined || r.tag === o.tag));
  if (numbers) {
    const absent = [...numbers].filter((n) => !chosen.some((r) => r.revision === n) && !unreadable.some((r) => r.revision === n));
    if (absent.length > 0) throw new DbkError('NOT_FOUND', `no revision ${absent.join(', ')} of ${ids.join(', ')}`);
  }
  if (chosen.length === 0 && unreadable.length === 0 && o.tag !== undefined && !o.stats) {
    throw new DbkError('NOT_FOUND', `no revision tagged '${o.tag}' in ${ids.join(', ')}`);
  }
  return chosen;
}

function statsTable(walked: ChainWalk['stats'], cached: readonly CachedRevision[]): SnapshotStats[] {
  const summary = new Map(cached.map((r) => [`${r.snapshotId}/${r.revision}`, r]));
  return walked.map((s) => ({
    snapshotId: s.snapshotId,
    revisions: s.revisions.map((r) => {
      const c = summary.get(`${s.snapshotId}/${r.revision}`)!;
      return { ...r, startTime: c.startTime, endTime: c.endTime, tag: c.tag, files: c.fileCount, fileBytes: c.fileBytes };
    }),
    all: { chunks: s.chunks, bytes: s.bytes, uniqueChunks: s.uniqueChunks, uniqueBytes: s.uniqueBytes },
  }));
}

function count(flags: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < flags.length; i++) n += flags[i]!;
  return n;
}
