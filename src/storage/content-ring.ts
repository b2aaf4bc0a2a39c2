// Shared memory between threads, handed out in contiguous spans and given back in the order it
// was taken: the restore's file writer ring (chunks decoded into it by the codec worker, written
// out by the writer thread) and the backup's ring of encoded chunks waiting for the storage.

/**
 * Shared memory handed out in contiguous spans and freed in the order it was taken. A span that
 * does not fit before the end starts again at 0; the bytes skipped count against it.
 */
export class ContentRing {
  readonly memory: SharedArrayBuffer;
  private tail = 0;
  private used = 0;

  constructor(readonly size: number) {
    this.memory = new SharedArrayBuffer(size);
  }

  /** A span of `length` bytes and what it costs (with the bytes skipped to wrap), or undefined while full. */
  take(length: number): { offset: number; cost: number } | undefined {
    const wrap = this.tail + length > this.size;
    const skip = wrap ? this.size - this.tail : 0;
    if (this.used + skip + length > this.size) return undefined;
    const offset = wrap ? 0 : this.tail;
    this.tail = offset + length;
    this.used += skip + length;
    return { offset, cost: skip + length };
  }

  free(cost: number): void {
    this.used -= cost;
    if (this.used === 0) this.tail = 0; // all written: start again at the beginning, skipping nothing
  }
}
