// Things taken in order and released in any order, handed back in the order they were taken:
// memory that is given back oldest first (a ring) can be held by work that finishes out of order.

export class ReleaseInOrder<T> {
  /** from `head` on: the items not handed back yet, and whether each is released */
  private items: T[] = [];
  private released: boolean[] = [];
  private head = 0;
  /** serial number of items[0] */
  private base = 0;

  /** `handBack` gets each item once it and every item taken before it are released. */
  constructor(private readonly handBack: (item: T) => void) {}

  /** Takes an item; returns its release (a second call does nothing). */
  add(item: T): () => void {
    const serial = this.base + this.items.length;
    this.items.push(item);
    this.released.push(false);
    return () => this.release(serial);
  }

  private release(serial: number): void {
    const i = serial - this.base;
    if (i < this.head || this.released[i]) return;
    this.released[i] = true;
    while (this.head < this.items.length && this.released[this.head]) this.handBack(this.items[this.head++]!);
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.released = this.released.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
