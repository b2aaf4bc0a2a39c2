// Throttling as Microsoft and AWS ask clients to handle it: a 429 or 503 with Retry-After pauses every
// request of this storage (not just the refused one) for that long; failures without the header
// back off exponentially with jitter, request by request.

const MAX_RETRY_AFTER_MS = 300_000;

/** A gate all Graph requests of one storage pass through; pause() closes it for everyone. */
export class ThrottleGate {
  private until = 0;
  /** total time the gate was closed, for logs and benchmarks */
  pausedMs = 0;

  pause(ms: number): void {
    const until = Date.now() + ms;
    if (until > this.until) {
      this.pausedMs += Math.min(ms, until - Math.max(this.until, Date.now()));
      this.until = until;
    }
  }

  async ready(signal?: AbortSignal): Promise<void> {
    for (let wait = this.until - Date.now(); wait > 0; wait = this.until - Date.now()) {
      signal?.throwIfAborted();
      await sleep(wait, signal);
    }
  }
}

/** Retry-After in ms: seconds (fractional allowed) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** Exponential backoff with full jitter on the upper half: attempt 1 → 0.1–0.2 s, doubling, at most 30 s. */
export function backoffMs(attempt: number): number {
  const ceiling = Math.min(30_000, 200 * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
