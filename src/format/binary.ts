// Little binary writer and strict reader shared by the metadata formats. Varints are unsigned
// LEB128 up to 2^53 (arithmetic, not bit operations, so sizes over 4 GiB survive).

import { corrupt } from '../errors.js';

export class BinaryWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): this {
    this.reserve(1);
    this.buf[this.pos++] = b;
    return this;
  }

  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    this.reserve(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  float64(n: number): this {
    this.reserve(8);
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.varint(b.length).bytes(b);
  }

  /** A signed integer: zigzag, then a varint (small magnitudes stay short either side of zero). */
  signed(n: number): this {
    return this.varint(n < 0 ? -2 * n - 1 : 2 * n);
  }

  /** Bytes with their length before them. */
  counted(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a copy, so the writer can go on). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export class BinaryReader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** Bytes not read yet: a count read from the data is checked against it before anything is made per item. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw corrupt(this.what, `truncated at byte ${this.pos}`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (!(b & 0x80)) {
        if (!Number.isSafeInteger(n)) break;
        return n;
      }
      scale *= 0x80;
    }
    throw corrupt(this.what, `bad number at byte ${this.pos}`);
  }

  float64(): number {
    this.need(8);
    const n = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return n;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  signed(): number {
    const z = this.varint();
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }

  /** Bytes with their length before them, at most `maxLength`. */
  counted(maxLength: number): Buffer {
    const n = this.varint();
    if (n > maxLength) throw corrupt(this.what, `${n} bytes at byte ${this.pos}, more than ${maxLength}`);
    return this.bytes(n);
  }

  string(maxLength = 1 << 16): string {
    const n = this.varint();
    if (n > maxLength) throw corrupt(this.what, `string of ${n} bytes at byte ${this.pos}`);
    return this.bytes(n).toString('utf8');
  }
}
