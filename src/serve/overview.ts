// The console's overview of a storage: each snapshot id with its revisions and the figures of
// `check -tabular` (total, unique and new bytes per revision), computed by a check from the cached
// chunk list and revision cache: instant when they are warm; on a cold cache the page sees progress
// until it is done. One computation per storage at a time; its result is kept until asked anew.

import { type CheckProgress, check } from '../commands/check.js';
import { HttpError } from './http.js';
import type { ServedStorages } from './storages.js';
import type { IdOverview, Overview } from './wire.js';

interface Computation {
  progress: CheckProgress | undefined;
  done?: Overview;
  failed?: unknown;
}

export class Overviews {
  private readonly computations = new Map<string, Computation>();

  constructor(private readonly storages: ServedStorages) {}

  /** The overview when it is ready; otherwise the progress of the computation, started if need be. */
  get(storage: string, refresh: boolean): Overview {
    this.storages.repo(storage);
    let c = this.computations.get(storage);
    if (c && refresh && (c.done || c.failed)) c = undefined;
    if (!c) {
      const started: Computation = { progress: undefined };
      this.computations.set(storage, started);
      this.compute(storage, started).catch((e) => (started.failed = e));
      c = started;
    }
    if (c.done) return c.done;
    if (c.failed !== undefined) {
      this.computations.delete(storage); // the next visit tries again
      throw c.failed instanceof Error ? c.failed : new HttpError(500, String(c.failed));
    }
    return { state: 'computing', phase: c.progress?.phase ?? 'starting', done: c.progress?.done ?? 0, ...(c.progress?.total === undefined ? {} : { total: c.progress.total }) };
  }

  private async compute(storage: string, c: Computation): Promise<void> {
    const r = await check({ ...this.storages.openOptions(storage), stats: true, fromCache: true, onProgress: (p) => (c.progress = p) });
    const ids = (r.stats ?? []).map(
      (s): IdOverview => ({
        id: s.snapshotId,
        revisionCount: s.revisions.length,
        lastBackup: s.revisions.reduce<number | null>((last, x) => Math.max(last ?? 0, x.endTime), null),
        storedBytes: s.all.bytes,
        revisions: s.revisions.map((x) => ({
          revision: x.revision,
          startTime: x.startTime,
          endTime: x.endTime,
          tag: x.tag,
          files: x.files,
          fileBytes: x.fileBytes,
          chunks: x.chunks,
          bytes: x.bytes,
          uniqueChunks: x.uniqueChunks,
          uniqueBytes: x.uniqueBytes,
          newChunks: x.newChunks,
          newBytes: x.newBytes,
        })),
      }),
    );
    c.done = { state: 'ready', storage, computedAt: Date.now(), ok: r.ok, findings: r.findings.length, ids };
  }
}
