// A hash table of 32-byte keys (chunk ids, chunk hashes) numbered 0, 1, 2 … in the order they were
// added, in flat typed arrays: a million keys take 32 MB of key bytes plus 8 MB of slots, where a
// Map of hex strings would take several times that and keep the garbage collector busy.
//
// Keys are keyed-hash outputs, so any four of their bytes are already a uniform hash: no hashing
// is done here, a slot is chosen from bytes 8–11 of the key and probed linearly.

export const KEY_BYTES = 32;
const WORDS = KEY_BYTES / 4;

export class IdTable {
  /** the keys, 8 words each, in number order */
  private words: Int32Array;
  private keyCount = 0;
  /** key number + 1, or 0 for an empty slot */
  private slots: Int32Array;
  private mask: number;
  private readonly probe = new Int32Array(WORDS);
  private readonly probeBytes = new Uint8Array(this.probe.buffer);
  private readonly scratch = Buffer.allocUnsafe(KEY_BYTES);

  constructor(expected = 1024) {
    const capacity = Math.max(16, expected);
    this.words = new Int32Array(capacity * WORDS);
    this.slots = new Int32Array(slotCountFor(capacity));
    this.mask = this.slots.length - 1;
  }

  get size(): number {
    return this.keyCount;
  }

  /** The number of the key at `bytes[offset…offset+32)`, or -1. */
  find(bytes: Uint8Array, offset = 0): number {
    this.probeBytes.set(bytes.subarray(offset, offset + KEY_BYTES));
    return this.findProbe();
  }

  /** The number of a key given as 64 hex digits, or -1. */
  findHex(hex: string): number {
    this.scratch.write(hex, 'hex');
    return this.find(this.scratch);
  }

  /** The key's number, adding it first when it is new. */
  add(bytes: Uint8Array, offset = 0): number {
    this.probeBytes.set(bytes.subarray(offset, offset + KEY_BYTES));
    const found = this.findProbe();
    if (found >= 0) return found;
    return this.append();
  }

  /** Adds a key known to be absent (a trusted, duplicate-free source such as the stored dictionary). */
  addNew(bytes: Uint8Array, offset = 0): number {
    this.probeBytes.set(bytes.subarray(offset, offset + KEY_BYTES));
    return this.append();
  }

  /** The bytes of key number n (a copy). */
  keyAt(n: number): Buffer {
    return Buffer.from(this.keyBytes(n, n + 1));
  }

  hexAt(n: number): string {
    return this.keyBytes(n, n + 1).toString('hex');
  }

  /** Keys number `from` to `to` (exclusive) as one buffer, viewing the table's memory. */
  keyBytes(from: number, to: number): Buffer {
    return Buffer.from(this.words.buffer, from * KEY_BYTES, (to - from) * KEY_BYTES);
  }

  private findProbe(): number {
    const p = this.probe;
    const w = this.words;
    for (let s = p[2]! & this.mask; ; s = (s + 1) & this.mask) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      const base = (v - 1) * WORDS;
      if (w[base + 2] === p[2] && w[base] === p[0] && w[base + 1] === p[1] && w[base + 3] === p[3] && w[base + 4] === p[4] && w[base + 5] === p[5] && w[base + 6] === p[6] && w[base + 7] === p[7]) {
        return v - 1;
      }
    }
  }

  private append(): number {
    const n = this.keyCount;
    if ((n + 1) * WORDS > this.words.length) {
      const grown = new Int32Array(this.words.length * 2);
      grown.set(this.words);
      this.words = grown;
    }
    this.words.set(this.probe, n * WORDS);
    this.keyCount = n + 1;
    if (this.keyCount * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(n);
    return n;
  }

  private place(n: number): void {
    for (let s = this.words[n * WORDS + 2]! & this.mask; ; s = (s + 1) & this.mask) {
      if (this.slots[s] === 0) {
        this.slots[s] = n + 1;
        return;
      }
    }
  }

  private rehash(slotCount: number): void {
    this.slots = new Int32Array(slotCount);
    this.mask = slotCount - 1;
    for (let n = 0; n < this.keyCount; n++) this.place(n);
  }
}

/** A power of two at least twice the key count, so probes stay short. */
function slotCountFor(keys: number): number {
  let s = 16;
  while (s < keys * 2) s *= 2;
  return s;
}
