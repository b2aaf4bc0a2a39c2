// The overview of a storage, shared by the Overview and Revisions pages: fetched once, polled every
// 500 ms while the server computes it (HTTP 202), kept until a refresh is asked for.

import { useEffect, useState } from 'preact/hooks';
import { getOverview } from './api';
import { showError } from './errors';
import type { OverviewComputing, OverviewReady } from './types';

export interface OverviewState {
  ready?: OverviewReady;
  computing?: OverviewComputing;
  failed?: boolean;
}

const states = new Map<string, OverviewState>();
const polling = new Set<string>();
/** storages whose overview the server must compute anew (a backup or prune ended since) */
const outdated = new Set<string>();
const listeners = new Set<() => void>();

function set(storage: string, state: OverviewState): void {
  states.set(storage, state);
  for (const listener of listeners) listener();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(storage: string, refresh: boolean): Promise<void> {
  if (polling.has(storage)) return;
  polling.add(storage);
  try {
    let first = true;
    for (;;) {
      const overview = await getOverview(storage, refresh && first);
      first = false;
      if (overview.state === 'ready') {
        set(storage, { ready: overview });
        return;
      }
      set(storage, { ready: states.get(storage)?.ready, computing: overview });
      await sleep(500);
    }
  } catch (e) {
    set(storage, { ready: states.get(storage)?.ready, failed: true });
    showError(e);
  } finally {
    polling.delete(storage);
  }
}

/** Recomputes the overview of `storage` on the server (`refresh=1`). */
export function refreshOverview(storage: string): void {
  set(storage, { ready: states.get(storage)?.ready, computing: { state: 'computing', phase: 'starting', done: 0 } });
  void poll(storage, true);
}

export function useOverview(storage: string): OverviewState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    const state = states.get(storage);
    if (!state?.ready && !state?.failed) void poll(storage, outdated.delete(storage));
    return () => {
      listeners.delete(listener);
    };
  }, [storage]);
  return states.get(storage) ?? {};
}

/** After a backup or prune: the next visit has the server compute the overview anew (it keeps the old one until asked). */
export function forgetOverview(storage: string): void {
  outdated.add(storage);
  if (!polling.has(storage)) states.delete(storage);
}
