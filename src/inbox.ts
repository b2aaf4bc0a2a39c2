// What a worker thread posts, taken in order by one consumer at a time: the stream reader's
// messages, the walk's batches.

/** Messages waiting to be taken, or the error that ends them. */
export class Inbox<T> {
  private readonly queue: T[] = [];
  private waiting: { resolve: (m: T) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  put(m: T): void {
    if (this.waiting) {
      this.waiting.resolve(m);
      this.waiting = undefined;
    } else {
      this.queue.push(m);
    }
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.waiting?.reject(this.failure);
    this.waiting = undefined;
  }

  take(): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}
