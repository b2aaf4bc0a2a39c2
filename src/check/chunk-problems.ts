// Finding referenced chunks that are not on the storage, and saying what they break. A chunk the
// listing lacks (or lists as empty) is looked up directly first: a stale listing must neither
// hide a missing chunk nor accuse a present one. A fossil stands in for a missing chunk (a
// warning: a revision finished while a prune made fossils of its chunks, and step 2 of that prune
// brings them back); with -resurrect it is renamed back into a chunk now, and a record tells every
// client's cache so.

import type { ChunkListing } from '../../cache/chunk-list-cache.js';
import type { ChainLink } from '../../cache/revision-cache.js';
import type { StorageCache } from '../../cache/storage-cache.js';
import { confirmPresence } from '../catalog/chunk-listing.js';
import { revisionsReferencing } from '../catalog/chunk-stats.js';
import { resurrect } from '../catalog/fossil-moves.js';
import { writeFossilRecords } from '../catalog/fossil-records.js';
import { now } from '../clock.js';
import { isDbkError } from '../errors.js';
import type { RevisionRef } from '../format/fossil-collection.js';
import type { ChunkId } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';

export type Severity = 'error' | 'warning';

export interface AffectedFiles extends RevisionRef {
  paths: string[];
  /** the chunk holds the revision's own metadata (file list or chunk sequences) */
  metadata: boolean;
}

export interface ChunkFinding {
  kind: 'chunk';
  severity: Severity;
  chunkId: ChunkId;
  problem: 'missing' | 'zero-size' | 'corrupt' | 'fossil';
  detail: string;
  /** with -resurrect: the fossil was renamed back into the chunk */
  resurrected: boolean;
  /** every revision that references the chunk */
  revisions: RevisionRef[];
  /** files it breaks, in the revisions looked at (the newest of each id, or all with -persist) */
  files: AffectedFiles[];
}

export interface PresenceOptions {
  resurrect: boolean;
}

/**
 * Referenced chunks that the storage does not have (as a usable chunk), keyed by chunk number, and
 * how many were looked up directly (what was found is written into the listing).
 */
export async function findAbsentChunks(
  repo: Repository,
  cache: StorageCache,
  listing: ChunkListing,
  referenced: Uint8Array,
  o: PresenceOptions,
): Promise<{ findings: Map<number, ChunkFinding>; lookedUp: number }> {
  const numbers: number[] = [];
  for (let n = 0; n < referenced.length; n++) if (referenced[n] && !listing.chunkSize(n)) numbers.push(n);
  const ids = cache.chunkIdsAt(numbers);
  const doubtful = numbers.map((n, i) => ({ n, id: ids[i] as ChunkId }));
  const found = new Map<number, ChunkFinding>();
  if (doubtful.length === 0) return { findings: found, lookedUp: 0 };
  const presence = await confirmPresence(repo, listing, doubtful, true);
  const resurrected: ChunkId[] = [];
  for (const { n, id } of doubtful) {
    const p = presence.get(n)!;
    if (p.chunk !== undefined && p.chunk > 0) continue;
    const finding = (problem: ChunkFinding['problem'], severity: Severity, detail: string): ChunkFinding => ({
      kind: 'chunk',
      severity,
      chunkId: id,
      problem,
      detail,
      resurrected: false,
      revisions: [],
      files: [],
    });
    if (p.chunk === 0) found.set(n, finding('zero-size', 'error', 'the chunk file is empty'));
    else if (p.fossil === undefined) found.set(n, finding('missing', 'error', 'the chunk does not exist'));
    else {
      const f = finding('fossil', 'warning', 'only a fossil of the chunk exists');
      if (o.resurrect && (await resurrect(repo, id)) !== 'lost') {
        f.resurrected = true;
        resurrected.push(id);
        listing.setFossil(n, undefined);
        listing.setChunk(n, p.fossil);
      }
      found.set(n, f);
    }
  }
  if (resurrected.length > 0) {
    await writeFossilRecords(repo, { kind: 'deletion', time: now(), latest: [], deletedRevisions: [], completes: '', deleted: [], resurrected });
  }
  return { findings: found, lookedUp: doubtful.length };
}

/** Fills in the revisions that reference each finding and the files each breaks. */
export async function describeFindings(repo: Repository, chains: ReadonlyMap<string, readonly ChainLink[]>, findings: ReadonlyMap<number, ChunkFinding>, persist: boolean): Promise<void> {
  if (findings.size === 0) return;
  const refs = revisionsReferencing(chains, new Set(findings.keys()));
  const toLoad = new Map<string, RevisionRef>();
  for (const [n, f] of findings) {
    f.revisions = refs.get(n) ?? [];
    const newestPerId = new Map(f.revisions.map((r) => [r.snapshotId, r]));
    for (const r of persist ? f.revisions : newestPerId.values()) toLoad.set(`${r.snapshotId}/${r.revision}`, r);
  }
  const byId = new Map([...findings.values()].map((f) => [f.chunkId as string, f]));
  for (const ref of toLoad.values()) await describeInRevision(repo, ref, byId);
}

async function describeInRevision(repo: Repository, ref: RevisionRef, byId: ReadonlyMap<string, ChunkFinding>): Promise<void> {
  const affected = new Map<ChunkFinding, AffectedFiles>();
  const entryFor = (f: ChunkFinding) => {
    let a = affected.get(f);
    if (!a) affected.set(f, (a = { ...ref, paths: [], metadata: false }));
    return a;
  };
  const r = await repo.loadRevision(ref.snapshotId, ref.revision);
  const s = r.sequences;
  for (const h of [...s.files, ...s.chunkHashes, ...s.chunkLengths]) {
    const f = byId.get(repo.chunkId(h));
    if (f) entryFor(f).metadata = true;
  }
  try {
    const hit = (await repo.readChunkHashes(r)).map((h) => byId.get(repo.chunkId(h)));
    for await (const e of repo.fileListEntries(r)) {
      if (!e.range) continue;
      const broken = new Set<ChunkFinding>();
      for (let i = e.range.startChunk; i <= e.range.endChunk; i++) if (hit[i]) broken.add(hit[i]!);
      for (const f of broken) entryFor(f).paths.push(e.path);
    }
  } catch (e) {
    if (!isDbkError(e, 'MISSING_CHUNKS') && !isDbkError(e, 'CORRUPT')) throw e; // metadata broken: marked above
  }
  for (const [f, a] of affected) f.files.push(a);
}
