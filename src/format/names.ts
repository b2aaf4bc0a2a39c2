// Names are bytes. Linux allows any byte but '/' and NUL in a name, UTF-8 or not, and a backup
// must bring back exactly those bytes. dbk keeps a name in a JavaScript string (so that sorting,
// maps and filters stay simple) decoded the way Python's "surrogateescape" does (PEP 383): valid
// UTF-8 as itself, and each byte of an invalid sequence as the lone surrogate U+DC80 + (byte -
// 0x80). Valid UTF-8 never decodes to a lone surrogate, so the mapping is reversible, and a string
// is "well formed" exactly when its name was valid UTF-8. Such a string must reach the file system
// as bytes (osPath()), since Node encodes a string path as UTF-8.

const ESCAPE_BASE = 0xdc00;

/** The name (or path) held by these bytes. */
export function nameFromBytes(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  // toString() puts U+FFFD where the bytes are not UTF-8; only then is the slow path needed
  return text.includes('\uFFFD') ? decodeEscaping(bytes) : text;
}

/** The bytes of a name made by nameFromBytes(), or typed by a user. */
export function bytesOfName(name: string): Buffer {
  if (name.isWellFormed()) return Buffer.from(name, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isEscape(name, i)) {
      out.push(c - ESCAPE_BASE);
    } else {
      const cp = name.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
    }
  }
  return Buffer.from(out);
}

/** What to hand to node:fs for this path: itself, or its bytes when it holds bytes that are not UTF-8. */
export function osPath(p: string): string | Buffer {
  return p.isWellFormed() ? p : bytesOfName(p);
}

/** Whether the code unit at `i` stands for a byte (a lone low surrogate in U+DC80..U+DCFF). */
function isEscape(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 0xdc80 || c > 0xdcff) return false;
  const before = i > 0 ? s.charCodeAt(i - 1) : 0;
  return !(before >= 0xd800 && before <= 0xdbff);
}

/** UTF-8 decoding that keeps each byte of an invalid sequence as an escape. */
function decodeEscaping(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; ) {
    const n = validSequenceLength(b, i);
    if (n === 0) {
      out += String.fromCharCode(ESCAPE_BASE + b[i]!);
      i++;
    } else {
      out += Buffer.from(b.subarray(i, i + n)).toString('utf8');
      i += n;
    }
  }
  return out;
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF), or 0. */
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * A name as text output shows it, on one line and unambiguous: a byte that is not UTF-8 and a
 * control character (a newline too) as `\xHH`, and a backslash doubled. Filters and restore
 * patterns read the same form (globFromDisplay()), so a user types what `list` printed.
 */
export function displayName(name: string): string {
  // the common case: printable, well formed, no backslash
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (!/[\x00-\x1f\x7f\\]/.test(name) && name.isWellFormed()) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isEscape(name, i)) out += hexEscape(c - ESCAPE_BASE);
    else if (c < 0x20 || c === 0x7f) out += hexEscape(c);
    else if (c === 0x5c) out += '\\\\';
    else out += name[i];
  }
  return out;
}

const hexEscape = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;

/**
 * A glob (picomatch syntax, where a backslash makes the next character literal) written in the
 * displayed form: each `\xHH` stands for that byte, taken literally; the rest is the glob as typed.
 * Bytes that together are UTF-8 become those characters, as nameFromBytes() would make them.
 */
export function globFromDisplay(glob: string): string {
  if (!/\\x[0-9a-fA-F]{2}/.test(glob)) return glob;
  const bytes: number[] = [];
  const literal = (text: string) => bytes.push(...Buffer.from(text, 'utf8'));
  let last = 0;
  for (const m of glob.matchAll(/\\\\|\\x([0-9a-fA-F]{2})/g)) {
    literal(glob.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] === undefined) {
      literal(m[0]); // an escaped backslash stays one
      continue;
    }
    const byte = Number.parseInt(m[1], 16);
    // an ASCII punctuation byte would be glob syntax: escaped, it is the character itself
    if (byte >= 0x20 && byte < 0x7f && !/[0-9A-Za-z]/.test(String.fromCharCode(byte))) bytes.push(0x5c);
    bytes.push(byte);
  }
  literal(glob.slice(last));
  return nameFromBytes(Uint8Array.from(bytes));
}
