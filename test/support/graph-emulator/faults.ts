// Fault injection and counters. Periodic knobs make storms for tests and benchmarks (every Nth
// request throttled, bursts of 503, a resource-unit budget, dropped connections); failNext()
// scripts one precise fault for a test. Counters say what clients asked, by kind.

import { type RequestKind, unitsOf } from './wire.js';

export interface FaultKnobs {
  /** added before every request is handled, ms */
  latencyMs: number;
  /** every Nth Graph request (numbered across all kinds) gets 429; 0 = off */
  throttleEveryNth: number;
  throttleRetryAfter: string;
  /** every Nth request inside a $batch gets an inner 429; 0 = off */
  innerThrottleEveryNth: number;
  innerThrottleRetryAfter: string;
  /** resource units per window (OneDrive for Business meters about 1,200 a minute); 0 = off */
  unitsPerWindow: number;
  windowMs: number;
  /** every Nth Graph request starts a burst of `unavailableBurst` 503s; 0 = off */
  unavailableEveryNth: number;
  unavailableBurst: number;
  /** Retry-After of those 503s; '' sends none (the client must back off on its own) */
  unavailableRetryAfter: string;
  /** every Nth request of `dropKinds` (all kinds when empty) loses its connection; 0 = off */
  dropEveryNth: number;
  dropKinds: RequestKind[];
  /** 'before': the request is not carried out; 'after': it is, but the response never arrives */
  dropPhase: 'before' | 'after';
}

export const DEFAULT_FAULT_KNOBS: FaultKnobs = {
  latencyMs: 0,
  throttleEveryNth: 0,
  throttleRetryAfter: '1',
  innerThrottleEveryNth: 0,
  innerThrottleRetryAfter: '1',
  unitsPerWindow: 0,
  windowMs: 60_000,
  unavailableEveryNth: 0,
  unavailableBurst: 1,
  unavailableRetryAfter: '',
  dropEveryNth: 0,
  dropKinds: [],
  dropPhase: 'before',
};

export type Fault = { status: number; code?: string; retryAfter?: string } | { drop: 'before' | 'after' };

export interface Counters {
  /** HTTP requests received (a $batch counts once here) */
  requests: number;
  /** requests by kind, top-level and inside batches alike */
  byKind: Partial<Record<RequestKind, number>>;
  /** requests that arrived inside a $batch */
  batchInner: number;
  throttled: number;
  unavailable: number;
  dropped: number;
  unauthorized: number;
  /** body bytes of uploads (simple PUTs and session fragments) received */
  uploadedBytes: number;
}

const emptyCounters = (): Counters => ({
  requests: 0,
  byKind: {},
  batchInner: 0,
  throttled: 0,
  unavailable: 0,
  dropped: 0,
  unauthorized: 0,
  uploadedBytes: 0,
});

export class Faults {
  private counts = emptyCounters();
  private readonly scripted: { kind: RequestKind | 'any'; fault: Fault; skip: number }[] = [];
  private apiSeq = 0;
  private innerSeq = 0;
  private dropSeq = 0;
  private readonly spent: { at: number; units: number }[] = [];

  /** `knobs` is shared with the emulator, so changing it takes effect at once */
  constructor(readonly knobs: FaultKnobs) {}

  get counters(): Counters {
    return structuredClone(this.counts);
  }

  /** Zeroes the counters and restarts the every-Nth sequences, so a test sees the same faults every run. */
  resetCounters(): void {
    this.counts = emptyCounters();
    this.apiSeq = this.innerSeq = this.dropSeq = 0;
  }

  /** After `skip` more requests of this kind (or of any kind), the next `times` get `fault`, before any periodic fault. */
  failNext(kind: RequestKind | 'any', fault: Fault, times = 1, skip = 0): void {
    for (let i = 0; i < times; i++) this.scripted.push({ kind, fault, skip });
  }

  /** Called for every request as it arrives, e.g. to change knobs in the middle of a run. */
  onRequest: ((kind: RequestKind, counters: Readonly<Counters>) => void) | undefined;

  count(kind: RequestKind, inner: boolean): void {
    if (!inner) this.counts.requests++;
    else this.counts.batchInner++;
    this.counts.byKind[kind] = (this.counts.byKind[kind] ?? 0) + 1;
    this.onRequest?.(kind, this.counts);
  }

  noteUnauthorized(): void {
    this.counts.unauthorized++;
  }

  /** Counts the body of a request that uploads file content (whatever becomes of it). */
  noteBody(kind: RequestKind, bytes: number): void {
    if (kind === 'upload' || kind === 'uploadFragment') this.counts.uploadedBytes += bytes;
  }

  /** The fault, if any, for a top-level request. `api`: a Graph call (not an upload URL, download URL or token call). */
  decide(kind: RequestKind, api: boolean): Fault | undefined {
    const fault = this.takeScripted(kind) ?? this.periodicDrop(kind) ?? (api ? this.apiFault(kind) : undefined);
    if (fault) this.tally(fault);
    return fault;
  }

  /** The fault, if any, for a request inside a $batch: throttling only, as the service does. */
  decideInner(kind: RequestKind): Fault | undefined {
    const k = this.knobs;
    let fault = this.takeScripted(kind);
    if (!fault && k.innerThrottleEveryNth > 0 && ++this.innerSeq % k.innerThrottleEveryNth === 0) {
      fault = { status: 429, code: 'activityLimitReached', retryAfter: k.innerThrottleRetryAfter };
    }
    fault ??= this.budget(kind);
    if (fault && 'drop' in fault) fault = { status: 503, code: 'serviceNotAvailable' }; // no socket to drop inside a batch
    if (fault) this.tally(fault);
    return fault;
  }

  private takeScripted(kind: RequestKind): Fault | undefined {
    const i = this.scripted.findIndex((s) => s.kind === kind || s.kind === 'any');
    const s = this.scripted[i];
    if (!s) return undefined;
    if (s.skip > 0) {
      for (const other of this.scripted) if (other.kind === s.kind && other.skip > 0) other.skip--;
      return undefined;
    }
    return this.scripted.splice(i, 1)[0]!.fault;
  }

  private periodicDrop(kind: RequestKind): Fault | undefined {
    const k = this.knobs;
    if (k.dropEveryNth <= 0 || (k.dropKinds.length > 0 && !k.dropKinds.includes(kind))) return undefined;
    return ++this.dropSeq % k.dropEveryNth === 0 ? { drop: k.dropPhase } : undefined;
  }

  private apiFault(kind: RequestKind): Fault | undefined {
    const k = this.knobs;
    const seq = ++this.apiSeq;
    if (k.throttleEveryNth > 0 && seq % k.throttleEveryNth === 0) {
      return { status: 429, code: 'activityLimitReached', retryAfter: k.throttleRetryAfter };
    }
    if (k.unavailableEveryNth > 0 && (seq - 1) % k.unavailableEveryNth >= k.unavailableEveryNth - k.unavailableBurst) {
      return { status: 503, code: 'serviceNotAvailable', retryAfter: k.unavailableRetryAfter || undefined };
    }
    return this.budget(kind);
  }

  /** Sliding-window resource units; throttled calls count against the budget too, as on the service. */
  private budget(kind: RequestKind): Fault | undefined {
    const k = this.knobs;
    if (k.unitsPerWindow <= 0) return undefined;
    const now = Date.now();
    while (this.spent.length > 0 && this.spent[0]!.at <= now - k.windowMs) this.spent.shift();
    const cost = unitsOf(kind);
    let used = this.spent.reduce((sum, s) => sum + s.units, 0);
    this.spent.push({ at: now, units: cost });
    if (used + cost <= k.unitsPerWindow) return undefined;
    // wait until enough of the oldest spending leaves the window
    let freeAt = now;
    for (const s of this.spent) {
      used -= s.units;
      freeAt = s.at + k.windowMs;
      if (used + cost <= k.unitsPerWindow) break;
    }
    const seconds = Math.max(0.001, (freeAt - now) / 1000);
    return { status: 429, code: 'activityLimitReached', retryAfter: seconds.toFixed(3) };
  }

  private tally(fault: Fault): void {
    if ('drop' in fault) this.counts.dropped++;
    else if (fault.status === 429) this.counts.throttled++;
    else if (fault.status === 503) this.counts.unavailable++;
  }
}
