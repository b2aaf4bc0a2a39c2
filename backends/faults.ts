// Injected faults, for tests only: a wrapper that makes a seeded share of storage calls fail
// before they run, lose their reply after they ran (the storage changed; the caller hears of a
// dropped connection), take long, or hang for seconds. It sits under the retry wrapper, so
// everything above it meets the faults a flaky network gives, and the torture harness switches it
// on in real dbk processes with DBK_TEST_FAULTS (e.g. "seed=7,error=0.01,lost=0.01,slow=0.05,hang=0.001").

import { DbkError, usage } from '../src/errors.js';
import { type Random, seededRandom } from '../src/seeded-random.js';
import type { Backend, FoundFiles, ListTreeOptions } from './backend.js';

export interface FaultOptions {
  seed: number;
  /** share of calls that fail before they run */
  error: number;
  /** share of changing calls (write, rename, delete, mkdir) that run and then fail as if the reply was lost */
  lost: number;
  /** share of calls delayed by 10–200 ms */
  slow: number;
  /** share of calls delayed by 2–6 s */
  hang: number;
}

/** Parses DBK_TEST_FAULTS; undefined when it is not set. */
export function faultsFromEnvironment(value: string | undefined): FaultOptions | undefined {
  if (value === undefined || value === '') return undefined;
  const o: FaultOptions = { seed: 1, error: 0, lost: 0, slow: 0, hang: 0 };
  for (const part of value.split(',')) {
    const [key, text] = part.split('=');
    const n = Number(text);
    if (!(key! in o) || !Number.isFinite(n)) throw usage(`DBK_TEST_FAULTS: not understood: ${part}`);
    o[key as keyof FaultOptions] = n;
  }
  return o;
}

const injected = (what: string) => new DbkError('TRANSIENT', `${what}: injected fault (DBK_TEST_FAULTS)`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function withFaults(inner: Backend, o: FaultOptions): Backend {
  const rnd: Random = seededRandom(o.seed);
  /** Runs one call with its fault, if one falls to it. */
  const call = async <T>(what: string, changes: boolean, fn: () => Promise<T>): Promise<T> => {
    const roll = rnd.next();
    let bound = o.error;
    if (roll < bound) throw injected(what);
    if (changes && roll < (bound += o.lost)) {
      await fn();
      throw injected(what);
    }
    if (roll < (bound += o.slow)) await sleep(10 + rnd.int(190));
    else if (roll < (bound += o.hang)) await sleep(2000 + rnd.int(4000));
    return fn();
  };
  const wrapped: Backend = {
    location: inner.location,
    smallCallsInFlight: inner.smallCallsInFlight,
    list: (dir) => call(`list ${dir}`, false, () => inner.list(dir)),
    read: (p) => call(`read ${p}`, false, () => inner.read(p)),
    write: (p, data) => call(`write ${p}`, true, () => inner.write(p, data)),
    rename: (from, to) => call(`rename ${from}`, true, () => inner.rename(from, to)),
    delete: (p) => call(`delete ${p}`, true, () => inner.delete(p)),
    stat: (p) => call(`stat ${p}`, false, () => inner.stat(p)),
    mkdir: (p) => call(`mkdir ${p}`, true, () => inner.mkdir(p)),
    close: () => inner.close(),
  };
  if (inner.copy) {
    const copy = inner.copy.bind(inner);
    wrapped.copy = (from, to) => call(`copy ${from}`, true, () => copy(from, to));
  }
  if (inner.listTree) {
    const listTree = inner.listTree.bind(inner);
    wrapped.listTree = (dir: string, options: ListTreeOptions, found: FoundFiles) => call(`list ${dir}`, false, () => listTree(dir, options, found));
  }
  return wrapped;
}
