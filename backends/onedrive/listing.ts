// Listing folders on OneDrive. list() pages through one folder. listTree() — what check and prune
// live on — runs a work queue of "one page of one folder" jobs: the first page of every folder it
// finds and every @odata.nextLink page, taken by `threads` workers at once. With batching on, a
// worker packs up to odb_max_batch_requests jobs into one POST /$batch; inner answers are matched by
// id, and inner failures are retried alone (as single GETs) after the pool-wide pause their
// Retry-After asks for. A chunk store of 4 million entries is ~4,000 pages: serial that is 4,000
// round trips back to back; here each round trip carries up to threads × batch pages, so the
// rounds needed are about the pages of the fullest prefix folder (~16), not the pages in all.

import { isDbkError } from '../../src/errors.js';

import type { Entry, FoundFiles, ListTreeOptions } from '../backend.js';
import { isTempName } from '../temp-names.js';
import { backoffMs, sleep } from '../throttle.js';
import { type BatchPart, dbkErrorOf, type GraphCaller, partFailure } from './graph-caller.js';

interface Page {
  value: { name: string; size?: number; folder?: unknown }[];
  next?: string;
}

function parsePage(body: unknown): Page {
  const b = body as { value?: unknown; '@odata.nextLink'?: unknown } | undefined;
  const value = Array.isArray(b?.value) ? (b.value as Page['value']) : [];
  const next = typeof b?.['@odata.nextLink'] === 'string' ? b['@odata.nextLink'] : undefined;
  return next === undefined ? { value } : { value, next };
}

const isMissing = (e: unknown) => isDbkError(e, 'NOT_FOUND');

/** Direct children of one folder, page after page; a missing folder lists as empty. */
export async function listFolder(caller: GraphCaller, what: string, childrenUrl: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for (let url: string | undefined = childrenUrl; url !== undefined; ) {
    let page: Page;
    try {
      page = parsePage(await caller.getJson(what, url));
    } catch (e) {
      if (isMissing(e) && out.length === 0) return [];
      throw e;
    }
    for (const item of page.value) {
      if (isTempName(item.name)) continue;
      out.push(item.folder ? { name: item.name, size: 0, dir: true } : { name: item.name, size: item.size ?? 0, dir: false });
    }
    url = page.next;
  }
  return out;
}

interface Job {
  /** folder path relative to the listed one ('' for itself) */
  rel: string;
  /** children URL (relative to the version root) or an absolute nextLink */
  url: string;
  /** retried after an inner batch failure: sent as a single GET */
  alone?: boolean;
}

export interface TreeListing {
  caller: GraphCaller;
  /** "list <dir>" for messages */
  what: string;
  /** children URL of a folder below the listed one */
  childrenUrl: (rel: string) => string;
  /** requests per $batch; 0 = no batching */
  batch: number;
  /** the Graph origin + version prefix, stripped from nextLinks to make batch URLs */
  versionRoot: string;
}

/**
 * Hands the files of each page to `found` as it arrives, until a request fails for good; a folder
 * missing (or deleted meanwhile) lists as empty.
 */
export async function listTreeParallel(t: TreeListing, options: ListTreeOptions, found: FoundFiles): Promise<void> {
  const threads = Math.max(1, options.threads);
  const queue = new WorkQueue({ rel: '', url: t.childrenUrl('') });

  const absorb = (job: Job, body: unknown): Job[] => {
    const page = parsePage(body);
    const more: Job[] = page.next === undefined ? [] : [{ rel: job.rel, url: page.next }];
    const prefix = job.rel === '' ? '' : `${job.rel}/`;
    const files: Entry[] = [];
    for (const item of page.value) {
      if (item.folder) more.push({ rel: prefix + item.name, url: t.childrenUrl(prefix + item.name) });
      else if (!isTempName(item.name)) files.push({ name: item.name, size: item.size ?? 0, dir: false });
    }
    if (files.length > 0 && !queue.failed) found(job.rel, files);
    return more;
  };

  const single = async (job: Job): Promise<Job[]> => {
    try {
      return absorb(job, await t.caller.getJson(t.what, job.url, options.signal));
    } catch (e) {
      if (!isMissing(e)) throw e;
      return []; // a folder deleted while we listed
    }
  };

  const batched = async (jobs: Job[]): Promise<Job[]> => {
    const parts = await t.caller.batch(
      t.what,
      jobs.map((j, i) => ({ id: String(i), url: batchUrl(j.url, t.versionRoot) })),
      options.signal,
    );
    const more: Job[] = [];
    let backoff = 0;
    for (const part of parts) {
      const job = jobs[Number(part.id)];
      if (!job) continue;
      const outcome = partOutcome(part);
      if (outcome === 'missing') continue; // a folder deleted while we listed
      if (outcome === 'ok') more.push(...absorb(job, part.body));
      else if (outcome === 'retry') {
        const f = partFailure(part);
        if (f.status === 429 || f.status === 503) t.caller.waitThrottled(t.what, f, 1);
        if (f.retryAfterMs === undefined) backoff = Math.max(backoff, backoffMs(1));
        more.push({ ...job, alone: true });
      } else throw dbkErrorOf(partFailure(part), t.what);
    }
    const answered = new Set(parts.map((p) => p.id));
    for (const [i, job] of jobs.entries()) if (!answered.has(String(i))) more.push({ ...job, alone: true });
    if (backoff > 0) await sleep(backoff, options.signal);
    return more;
  };

  const worker = async (): Promise<void> => {
    for (let jobs = await queue.take(t.batch); jobs; jobs = await queue.take(t.batch)) {
      try {
        options.signal?.throwIfAborted();
        const more = jobs.length === 1 ? await single(jobs[0]!) : await batched(jobs);
        queue.done(jobs.length, more);
      } catch (e) {
        queue.fail(e);
      }
    }
  };
  await Promise.all(Array.from({ length: threads }, worker));
  queue.throwIfFailed();
}

function partOutcome(part: BatchPart): 'ok' | 'missing' | 'retry' | 'fatal' {
  if (part.status >= 200 && part.status < 300) return 'ok';
  if (part.status === 404) return 'missing';
  if (part.status === 401 || part.status === 408 || part.status === 423 || part.status === 429 || part.status >= 500) return 'retry';
  return 'fatal';
}

/** Batch URLs are relative to the version root: "https://graph…/v1.0/drives/…?…" → "/drives/…?…". */
function batchUrl(url: string, versionRoot: string): string {
  return url.startsWith(versionRoot) ? url.slice(versionRoot.length) : url;
}

/** Jobs waiting and jobs in flight; take() waits while others may still add work. */
class WorkQueue {
  private readonly pending: Job[];
  private active = 0;
  private waiting: (() => void)[] = [];
  private error: { e: unknown } | undefined;

  constructor(first: Job) {
    this.pending = [first];
  }

  /**
   * An alone job by itself, or up to `max` jobs (full batches: a batch of 20 pages costs about one
   * round trip, like a single page); undefined when all is done.
   */
  async take(max: number): Promise<Job[] | undefined> {
    for (;;) {
      if (this.error) return undefined;
      if (this.pending.length > 0) {
        const alone = this.pending.findIndex((j) => j.alone);
        const n = max <= 1 || alone >= 0 ? 1 : max;
        const jobs = alone >= 0 ? this.pending.splice(alone, 1) : this.pending.splice(0, n);
        this.active += jobs.length;
        return jobs;
      }
      if (this.active === 0) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  done(n: number, more: Job[]): void {
    this.active -= n;
    this.pending.push(...more);
    this.wake();
  }

  /** true once a job has failed: answers still arriving are not handed on */
  get failed(): boolean {
    return this.error !== undefined;
  }

  fail(e: unknown): void {
    this.error ??= { e };
    this.wake();
  }

  throwIfFailed(): void {
    if (this.error) throw this.error.e;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
