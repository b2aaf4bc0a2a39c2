// Retries TRANSIENT failures with exponential backoff and jitter. Wraps any backend; permanent
// errors, NOT_FOUND and ALREADY_EXISTS pass straight through.
//
// A write retried after a lost reply may meet its own first attempt, which did complete: the
// storage then says ALREADY_EXISTS. The wrapper reads the file back and, when it holds exactly the
// bytes being written, reports success, so that no caller takes its own write for another
// client's (a backup would have written its revision a second time, under the next number).
// Likewise a retried rename that finds its source gone and its target there has been done.

import { DbkError, isDbkError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { Backend, FoundFiles, ListTreeOptions } from './backend.js';

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  log?: Logger;
  /** asked before each retry: false gives the failure up */
  canRetry?: () => boolean;
}

const DEFAULTS: RetryOptions = { attempts: 8, baseDelayMs: 200, maxDelayMs: 30_000 };

export async function retrying<T>(what: string, fn: () => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
  const o = { ...DEFAULTS, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof DbkError && e.temporary) || attempt >= o.attempts || o.canRetry?.() === false) throw e;
      const delay = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      o.log?.debug(`${what}: ${e.message}; retry ${attempt} in ${Math.round(delay)} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export function withRetry(inner: Backend, options: Partial<RetryOptions> = {}): Backend {
  const r = <T>(what: string, fn: () => Promise<T>) => retrying(what, fn, options);
  const wrapped: Backend = {
    location: inner.location,
    smallCallsInFlight: inner.smallCallsInFlight,
    list: (dir) => r(`list ${dir}`, () => inner.list(dir)),
    read: (p) => r(`read ${p}`, () => inner.read(p)),
    write: async (p, data) => {
      let attempts = 0;
      try {
        await r(`write ${p}`, () => {
          attempts++;
          return inner.write(p, data);
        });
      } catch (e) {
        if (!(attempts > 1 && isDbkError(e, 'ALREADY_EXISTS') && (await holds(p, data)))) throw e;
      }
    },
    rename: async (from, to) => {
      let attempts = 0;
      try {
        await r(`rename ${from}`, () => {
          attempts++;
          return inner.rename(from, to);
        });
      } catch (e) {
        if (!(attempts > 1 && (isDbkError(e, 'NOT_FOUND') || isDbkError(e, 'ALREADY_EXISTS')) && (await moved(from, to)))) throw e;
      }
    },
    delete: (p) => r(`delete ${p}`, () => inner.delete(p)),
    stat: (p) => r(`stat ${p}`, () => inner.stat(p)),
    mkdir: (p) => r(`mkdir ${p}`, () => inner.mkdir(p)),
    close: () => inner.close(),
  };
  const moved = async (from: string, to: string) => (await r(`stat ${from}`, () => inner.stat(from))) === undefined && (await r(`stat ${to}`, () => inner.stat(to))) !== undefined;
  const holds = async (p: string, data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(await r(`read ${p}`, () => inner.read(p)));
  if (inner.copy) {
    const copy = inner.copy.bind(inner);
    // a retried copy that meets its own first attempt finds `to` holding from's bytes: done
    wrapped.copy = async (from, to) => {
      let attempts = 0;
      try {
        await r(`copy ${from}`, () => {
          attempts++;
          return copy(from, to);
        });
      } catch (e) {
        if (!(attempts > 1 && isDbkError(e, 'ALREADY_EXISTS') && (await r(`read ${to}`, () => inner.read(to))).equals(await r(`read ${from}`, () => inner.read(from))))) throw e;
      }
    };
  }
  if (inner.listTree) {
    const listTree = inner.listTree.bind(inner);
    // a listing that has handed files on is not started again: it would hand them on twice
    wrapped.listTree = (dir: string, o: ListTreeOptions, found: FoundFiles): Promise<void> => {
      let handedOn = false;
      const noting: FoundFiles = (folder, files) => {
        handedOn = true;
        found(folder, files);
      };
      return retrying(`list ${dir}`, () => listTree(dir, o, noting), { ...options, canRetry: () => !handedOn });
    };
  }
  return wrapped;
}
