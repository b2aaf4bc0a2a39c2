// The walk of the tree needs no key and no storage: a backup starts it before it opens the
// storage, and the walk runs while the key is derived from the password (scrypt keeps a core
// busy for about half a second, and the main thread would otherwise wait). It reads ahead a
// bounded number of entries; once the backup takes them, it goes on from where it stopped.

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Fifo } from '../fifo.js';
import type { ScannedEntry } from '../tree/scanner.js';

/** Entries read ahead at most (a few hundred bytes each): more than half a second of walking. */
const AHEAD_ENTRIES = 50_000;

export class ScanAhead implements AsyncIterable<ScannedEntry[]> {
  private readonly batches = new Fifo<ScannedEntry[]>();
  private readonly reading: Promise<void>;
  private stopped = false;
  private done = false;
  private failure: { e: unknown } | undefined;

  constructor(
    private readonly walk: AsyncIterator<ScannedEntry[]>,
    limit = AHEAD_ENTRIES,
  ) {
    this.reading = this.readAhead(limit).catch((e: unknown) => {
      this.failure = { e };
    });
  }

  private async readAhead(limit: number): Promise<void> {
    for (let entries = 0; !this.stopped && entries < limit; ) {
      const r = await this.walk.next();
      if (r.done) {
        this.done = true;
        return;
      }
      this.batches.push(r.value);
      entries += r.value.length;
      // the opening of the storage goes on between batches: its next step is often a callback
      // away, and the step after it the key derivation this walk is meant to run beside
      await yieldToEventLoop();
    }
  }

  /** What was read ahead, then the rest of the walk. A walk that failed ahead fails here, where it would have. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ScannedEntry[]> {
    this.stopped = true;
    await this.reading;
    for (let b = this.batches.shift(); b !== undefined; b = this.batches.shift()) yield b;
    if (this.failure) throw this.failure.e;
    if (this.done) return;
    for (let r = await this.walk.next(); !r.done; r = await this.walk.next()) yield r.value;
  }

  /** Stops reading ahead and ends the walk, for a backup that ends before it takes it. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.reading;
    await this.walk.return?.(undefined);
  }
}
