// A first-in, first-out queue on an array: taking from the front moves an index, and the array is
// cut down now and then, so a queue through which millions pass costs what it holds, not what
// passed (Array.shift() would copy the rest each time).

export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The i-th item from the front. */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T; // let it go
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
