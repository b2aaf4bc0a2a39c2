// Small calls (stat, rename in place, delete) gathered into $batch requests. A prune makes and
// deletes fossils by the hundred thousand, and a backup on a shared storage asks about every chunk
// it cuts: one request each is one round trip each. Calls made while earlier ones are on their way
// wait in a queue; every free request slot takes up to odb_max_batch_requests of them at once. A
// call alone in the queue goes as a plain request, so nothing waits for company.
//
// Each call keeps its own outcome: its inner answer becomes exactly the error (or value) a single
// request would have given. An inner 429/503 pauses the whole pool for its Retry-After, as a
// refused request does, and the call is sent again; other retryable answers, and calls a batch
// left unanswered, are sent again alone, through the single-request policy in graph-caller.ts.

import { backoffMs, sleep } from '../throttle.js';
import type { BatchPart, CallTrace, GraphCaller } from './graph-caller.js';
import { dbkErrorOf, partFailure } from './graph-caller.js';

export interface SmallCall {
  /** "rename chunks/ab/cd…", for messages and errors */
  what: string;
  method: 'GET' | 'PATCH' | 'DELETE';
  /** relative to the version root */
  url: string;
  body?: unknown;
  /** set when a try got no answer, so the service may have carried the call out */
  trace?: CallTrace;
}

interface Queued extends SmallCall {
  resolve: (body: unknown) => void;
  reject: (e: unknown) => void;
}

/** batches one call may be refused in (throttled, or a server error) before it is sent alone */
const MAX_INNER_TRIES = 10;

export class BatchedCalls {
  private readonly queue: Queued[] = [];
  private sending = 0;
  private scheduled = false;

  constructor(
    private readonly caller: GraphCaller,
    /** calls per $batch request */
    private readonly size: number,
    /** requests on their way at once */
    private readonly slots: number,
    /** a single request, with the full retry policy: for calls alone and calls sent again */
    private readonly single: (c: SmallCall) => Promise<unknown>,
  ) {}

  /** The call's answer body; a refusal as the DbkError a single request would have thrown. */
  call(c: SmallCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...c, resolve, reject });
      // calls made in this same turn (a pool starting its workers) go out together
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.sending < this.slots && this.queue.length > 0) {
      const calls = this.queue.splice(0, this.size);
      this.sending++;
      const sent = calls.length === 1 ? this.alone(calls[0]!) : this.together(calls);
      void sent.finally(() => {
        this.sending--;
        this.pump();
      });
    }
  }

  private async alone(c: Queued): Promise<void> {
    try {
      c.resolve(await this.single(c));
    } catch (e) {
      c.reject(e);
    }
  }

  private async together(calls: Queued[], tries = 0): Promise<void> {
    const trace: CallTrace = {};
    let parts: BatchPart[];
    try {
      parts = await this.caller.batch(
        `${calls[0]!.what} and ${calls.length - 1} more`,
        calls.map((c, i) => ({ id: String(i), method: c.method, url: c.url, body: c.body })),
        undefined,
        trace,
      );
    } catch (e) {
      for (const c of calls) c.reject(e);
      return;
    }
    const again: Queued[] = [];
    let backOff = false;
    const byId = new Map(parts.map((p) => [p.id, p]));
    for (const [i, c] of calls.entries()) {
      if (trace.unanswered && c.trace) c.trace.unanswered = true;
      const part = byId.get(String(i));
      if (part !== undefined && part.status >= 200 && part.status < 300) {
        c.resolve(part.body);
        continue;
      }
      if (part !== undefined && !isRetryable(part.status)) {
        c.reject(dbkErrorOf(partFailure(part), c.what));
        continue;
      }
      again.push(c);
      const f = part === undefined ? undefined : partFailure(part);
      if (f && (f.status === 429 || f.status === 503)) {
        this.caller.throttled++;
        this.caller.waitThrottled(c.what, f, tries + 1);
      }
      if (f?.retryAfterMs === undefined) backOff = true;
    }
    if (again.length === 0) return;
    if (tries + 1 >= MAX_INNER_TRIES) {
      await Promise.all(again.map((c) => this.alone(c)));
      return;
    }
    if (backOff) await sleep(backoffMs(tries + 1));
    return this.together(again, tries + 1); // after the pause a Retry-After set for the whole pool
  }
}

/** 401 too: the batch's token was taken, so a refreshed one may cure it (alone, after the tries) */
const isRetryable = (status: number) => status === 401 || status === 408 || status === 423 || status === 429 || status >= 500;
