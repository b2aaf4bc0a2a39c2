// What check -stats/-tabular report and what check and prune must know about references, computed
// in one walk over the cached change chains: per revision its distinct chunks, their stored bytes,
// those no other revision of the id references (uniq) and those first seen in it (new); per id
// the union and the chunks no other id shares; and which chunks the chosen revisions reference.
//
// The walk touches each change once. A chunk's life in an id is a set of intervals [added,
// removed) over the revision sequence; its interval lengths give how many revisions reference it
// (one means uniq, in the revision where the interval starts), and whether an interval meets a
// chosen revision gives whether it is referenced. State lives in typed arrays indexed by chunk
// number, reset only where touched, so memory is ~12 bytes per chunk number, time ~ changes.

import { ABSENT } from '../../cache/chunk-list-cache.js';
import type { ChainLink } from '../../cache/revision-cache.js';
import type { RevisionRef } from '../format/fossil-collection.js';

export interface ChunkCounts {
  chunks: number;
  bytes: number;
  uniqueChunks: number;
  uniqueBytes: number;
}

export interface RevisionChunkStats extends ChunkCounts {
  revision: number;
  newChunks: number;
  newBytes: number;
}

export interface SnapshotChunkStats extends ChunkCounts {
  snapshotId: string;
  revisions: RevisionChunkStats[];
}

export interface ChainWalk {
  stats: SnapshotChunkStats[];
  /** 1 at every chunk number a chosen revision references */
  referenced: Uint8Array;
}

export type RevisionFilter = (snapshotId: string, revision: number) => boolean;

/** Walks every chain once. `sizes`: stored size by chunk number (ABSENT or beyond: counted as 0). */
export function walkChains(chains: ReadonlyMap<string, readonly ChainLink[]>, sizes: Uint32Array, chosen: RevisionFilter = () => true): ChainWalk {
  const capacity = highestNumber(chains) + 1;
  const state = new WalkState(capacity, sizes);
  const unions: Int32Array[] = [];
  const stats: SnapshotChunkStats[] = [];
  for (const [snapshotId, links] of chains) {
    const { revisions, union } = state.walkId(links, (rev) => chosen(snapshotId, rev));
    unions.push(union);
    stats.push({ snapshotId, revisions, chunks: union.length, bytes: state.bytesOf(union), uniqueChunks: 0, uniqueBytes: 0 });
  }
  // chunks no other id references: count, per chunk, the ids whose union holds it
  const ids = new Uint8Array(capacity);
  for (const u of unions) for (const x of u) if (ids[x]! < 2) ids[x]!++;
  unions.forEach((u, i) => {
    const s = stats[i]!;
    for (const x of u) {
      if (ids[x] === 1) {
        s.uniqueChunks++;
        s.uniqueBytes += state.size(x);
      }
    }
  });
  return { stats, referenced: state.referenced };
}

class WalkState {
  readonly referenced: Uint8Array;
  private readonly inSet: Uint8Array;
  private readonly seen: Uint8Array;
  /** index of the revision where the chunk's current (or last) interval started */
  private readonly start: Int32Array;
  /** revisions referencing the chunk so far */
  private readonly occurrences: Int32Array;
  private union = new Int32Array(1024);

  constructor(
    capacity: number,
    private readonly sizes: Uint32Array,
  ) {
    this.referenced = new Uint8Array(capacity);
    this.inSet = new Uint8Array(capacity);
    this.seen = new Uint8Array(capacity);
    this.start = new Int32Array(capacity);
    this.occurrences = new Int32Array(capacity);
  }

  size(x: number): number {
    const s = this.sizes[x];
    return s === undefined || s === ABSENT ? 0 : s;
  }

  bytesOf(xs: Int32Array): number {
    let b = 0;
    for (const x of xs) b += this.size(x);
    return b;
  }

  walkId(links: readonly ChainLink[], chosen: (revision: number) => boolean): { revisions: RevisionChunkStats[]; union: Int32Array } {
    const K = links.length;
    const chosenBefore = new Int32Array(K + 1); // chosen revisions among the first k
    for (const [k, l] of links.entries()) chosenBefore[k + 1] = chosenBefore[k]! + (chosen(l.revision) ? 1 : 0);
    const meetsChosen = (from: number, to: number) => chosenBefore[to]! > chosenBefore[from]!;
    const revisions: RevisionChunkStats[] = [];
    let unionSize = 0;
    let chunks = 0;
    let bytes = 0;
    for (let k = 0; k < K; k++) {
      const { added, removed } = links[k]!.change;
      let newChunks = 0;
      let newBytes = 0;
      for (const x of removed) {
        this.inSet[x] = 0;
        this.occurrences[x]! += k - this.start[x]!;
        if (meetsChosen(this.start[x]!, k)) this.referenced[x] = 1;
        chunks--;
        bytes -= this.size(x);
      }
      for (const x of added) {
        this.inSet[x] = 1;
        this.start[x] = k;
        chunks++;
        bytes += this.size(x);
        if (this.seen[x]) continue;
        this.seen[x] = 1;
        if (unionSize === this.union.length) this.growUnion();
        this.union[unionSize++] = x;
        newChunks++;
        newBytes += this.size(x);
      }
      revisions.push({ revision: links[k]!.revision, chunks, bytes, uniqueChunks: 0, uniqueBytes: 0, newChunks, newBytes });
    }
    const union = this.union.slice(0, unionSize);
    for (const x of union) {
      if (this.inSet[x]) {
        this.occurrences[x]! += K - this.start[x]!;
        if (meetsChosen(this.start[x]!, K)) this.referenced[x] = 1;
      }
      if (this.occurrences[x] === 1) {
        const r = revisions[this.start[x]!]!;
        r.uniqueChunks++;
        r.uniqueBytes += this.size(x);
      }
      this.inSet[x] = 0;
      this.seen[x] = 0;
      this.start[x] = 0;
      this.occurrences[x] = 0;
    }
    return { revisions, union };
  }

  private growUnion(): void {
    const grown = new Int32Array(this.union.length * 2);
    grown.set(this.union);
    this.union = grown;
  }
}

function highestNumber(chains: ReadonlyMap<string, readonly ChainLink[]>): number {
  let max = -1;
  for (const links of chains.values()) {
    for (const l of links) {
      const last = l.change.added[l.change.added.length - 1];
      if (last !== undefined && last > max) max = last;
    }
  }
  return max;
}

/** The revisions that reference each of a few chunk numbers (for reporting missing chunks). */
export function revisionsReferencing(chains: ReadonlyMap<string, readonly ChainLink[]>, targets: ReadonlySet<number>): Map<number, RevisionRef[]> {
  const out = new Map<number, RevisionRef[]>([...targets].map((n) => [n, []]));
  for (const [snapshotId, links] of chains) {
    const present = new Set<number>();
    for (const l of links) {
      for (const x of l.change.removed) present.delete(x);
      for (const x of l.change.added) if (targets.has(x)) present.add(x);
      for (const x of present) out.get(x)!.push({ snapshotId, revision: l.revision });
    }
  }
  return out;
}
