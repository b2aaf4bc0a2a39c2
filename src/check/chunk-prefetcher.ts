// Serves the chunks a restore needs, in the order it needs them: downloads a window ahead in
// parallel and drops each chunk as soon as its last user has taken it, so memory is bounded by
// the window, not by the revision.

import type { ChunkHash } from '../format/ids.js';

export class ChunkPrefetcher {
  private readonly remaining = new Map<ChunkHash, number>();
  private readonly loaded = new Map<ChunkHash, Promise<Buffer>>();
  private next = 0;

  /** `order`: every chunk use, in the order get() will be called. */
  constructor(
    private readonly order: readonly ChunkHash[],
    private readonly load: (hash: ChunkHash) => Promise<Buffer>,
    private readonly window: number,
  ) {
    for (const h of order) this.remaining.set(h, (this.remaining.get(h) ?? 0) + 1);
  }

  private fill(): void {
    while (this.next < this.order.length && this.loaded.size < this.window) {
      const h = this.order[this.next++]!;
      if (this.loaded.has(h)) continue;
      const p = this.load(h);
      p.catch(() => {}); // surfaced by get()
      this.loaded.set(h, p);
    }
  }

  /** The next use of `hash`; must follow `order`. */
  async get(hash: ChunkHash): Promise<Buffer> {
    this.fill();
    let p = this.loaded.get(hash);
    if (!p) {
      p = this.load(hash);
      this.loaded.set(hash, p);
    }
    try {
      return await p;
    } finally {
      const left = (this.remaining.get(hash) ?? 1) - 1;
      this.remaining.set(hash, left);
      if (left <= 0) this.loaded.delete(hash);
      this.fill();
    }
  }
}
