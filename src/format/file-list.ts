// The file list of a revision: one binary record per file, folder, symlink or special file, in
// backup order. Stored as a metadata sequence (cut into deduplicated metadata chunks), so an
// unchanged run of entries costs nothing in the next revision. A leading version byte lets the
// format evolve; version 1 (paths as UTF-8, times in float milliseconds) is still read.
//
// version 2:
// entry := type | path (counted bytes) | mode | mtime seconds (signed) | mtime nanoseconds | size | uid | gid
//          | type-specific | extras
//   file with size > 0: startChunk startOffset endChunk endOffset (end exclusive) | sha256 (32)
//   symlink: target (counted bytes)
//   character or block device: rdev
//   extras := count, then each: tag | counted bytes; a tag this reader does not know is passed over
//     1 hard link: the index in this list of the first entry of its link group
//     2 owner's user name, 3 owner's group name
//     4 extended attribute: name (counted bytes) | value (the rest)
// version 1: type | path (UTF-8) | mode | mtime ms (f64) | size | uid | gid | file range and sha256 | symlink target

import { corrupt } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';
import { bytesOfName, nameFromBytes } from './names.js';

export const FILE_LIST_VERSION = 2;

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev';
const TYPE_CODE: Record<EntryType, number> = { file: 1, dir: 2, symlink: 3, fifo: 4, chardev: 5, blockdev: 6 };
const CODE_TYPE: Record<number, EntryType> = { 1: 'file', 2: 'dir', 3: 'symlink', 4: 'fifo', 5: 'chardev', 6: 'blockdev' };

const TAG_HARD_LINK = 1;
const TAG_USER = 2;
const TAG_GROUP = 3;
const TAG_XATTR = 4;

/** Linux's limits: a path passed to a system call, an attribute's name and value. */
const MAX_PATH_BYTES = 1 << 16;
const MAX_XATTR_NAME = 255;
const MAX_EXTRA_BYTES = 1 << 16;

/** Where a file's bytes sit in the revision's chunk sequence. */
export interface ChunkRange {
  startChunk: number;
  startOffset: number;
  endChunk: number;
  /** exclusive */
  endOffset: number;
}

export interface ExtendedAttribute {
  name: string;
  value: Buffer;
}

export interface FileEntry {
  /** relative to the repository, '/'-separated; bytes that are not UTF-8 as escapes (names.ts) */
  path: string;
  type: EntryType;
  /** permission bits (and setuid/setgid/sticky) */
  mode: number;
  /** modification time: whole seconds since 1970 (negative before) and the nanoseconds past them */
  mtimeS: number;
  mtimeNs: number;
  size: number;
  uid: number;
  gid: number;
  /** files with content */
  range?: ChunkRange;
  /** SHA-256 of the content, for files with content */
  hash?: Buffer;
  /** symlinks: the target as stored in the link (escaped like a path) */
  target?: string;
  /** devices: the device number */
  rdev?: number;
  /** a file hard-linked with earlier ones: the index in the file list of the first of them */
  linkOf?: number;
  /** the owner's names where the backup could find them */
  user?: string;
  group?: string;
  xattrs?: ExtendedAttribute[];
}

export function encodeFileList(entries: Iterable<FileEntry>): Buffer {
  const encoder = new FileListEncoder();
  for (const e of entries) encoder.add(e);
  return encoder.take();
}

/** Encodes a file list entry by entry; the bytes are taken as they pile up, so a list of millions is never whole. */
export class FileListEncoder {
  private w = new BinaryWriter().byte(FILE_LIST_VERSION);
  /** entries added so far: the index the next one has in the list */
  count = 0;

  add(e: FileEntry): void {
    writeEntry(this.w, e);
    this.count++;
  }

  /** Bytes encoded and not taken yet. */
  get pending(): number {
    return this.w.length;
  }

  /** The bytes encoded since the last take. */
  take(): Buffer {
    const bytes = this.w.toBuffer();
    this.w = new BinaryWriter();
    return bytes;
  }
}

function writeEntry(w: BinaryWriter, e: FileEntry): void {
  w.byte(TYPE_CODE[e.type]).counted(bytesOfName(e.path)).varint(e.mode).signed(e.mtimeS).varint(e.mtimeNs).varint(e.size).varint(e.uid).varint(e.gid);
  if (e.type === 'file' && e.size > 0) {
    const r = e.range;
    if (!r || !e.hash) throw new Error(`file entry without chunks: ${e.path}`);
    w.varint(r.startChunk).varint(r.startOffset).varint(r.endChunk).varint(r.endOffset).bytes(e.hash);
  } else if (e.type === 'symlink') {
    w.counted(bytesOfName(e.target ?? ''));
  } else if (e.type === 'chardev' || e.type === 'blockdev') {
    w.varint(e.rdev ?? 0);
  }
  writeExtras(w, e);
}

function writeExtras(w: BinaryWriter, e: FileEntry): void {
  const count = (e.linkOf === undefined ? 0 : 1) + (e.user === undefined ? 0 : 1) + (e.group === undefined ? 0 : 1) + (e.xattrs?.length ?? 0);
  w.varint(count);
  if (count === 0) return;
  if (e.linkOf !== undefined) w.varint(TAG_HARD_LINK).counted(new BinaryWriter().varint(e.linkOf).toBuffer());
  if (e.user !== undefined) w.varint(TAG_USER).counted(ownerNames.bytesOf(e.user));
  if (e.group !== undefined) w.varint(TAG_GROUP).counted(ownerNames.bytesOf(e.group));
  for (const x of e.xattrs ?? []) w.varint(TAG_XATTR).counted(new BinaryWriter().counted(bytesOfName(x.name)).bytes(x.value).toBuffer());
}

export function decodeFileList(data: Buffer, chunkCount: number): FileEntry[] {
  return [...new FileListDecoder(chunkCount).push(data, true)];
}

/**
 * An entry of the largest size a reader waits for: beyond it, bytes that do not make an entry are
 * damage, not an entry cut by a chunk boundary (a path and its target are 64 KiB at most; a
 * large set of extended attributes is the only thing that comes near).
 */
const MAX_ENTRY_BYTES = 16 << 20;

/**
 * Decodes a file list as its pieces arrive (metadata chunks, in order), holding only the bytes of
 * an entry cut by a piece's end: a list of millions is read in the memory of one piece.
 */
export class FileListDecoder {
  private pending = Buffer.alloc(0);
  private version: number | undefined;
  private index = 0;

  constructor(private readonly chunkCount: number) {}

  /** The entries complete in the bytes given so far; `last` says no more will come. */
  *push(bytes: Buffer, last: boolean): Generator<FileEntry> {
    const data = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const r = new BinaryReader(data, 'file list');
    if (this.version === undefined) {
      if (data.length === 0) {
        if (last) throw corrupt('file list', 'empty');
        return;
      }
      this.version = r.byte();
      if (this.version !== 1 && this.version !== FILE_LIST_VERSION) throw corrupt('file list', `unsupported version ${this.version}`);
    }
    while (!r.done) {
      const start = r.pos;
      let e: FileEntry;
      try {
        e = this.version === 1 ? readEntryV1(r, this.chunkCount) : readEntry(r, this.chunkCount, this.index);
      } catch (err) {
        // an entry that runs past the bytes so far is completed by the next piece
        if (last || data.length - start > MAX_ENTRY_BYTES) throw err;
        r.pos = start;
        break;
      }
      this.index++;
      yield e;
    }
    // a copy: the rest of the piece can go
    this.pending = Buffer.from(data.subarray(r.pos));
  }
}

/** The mode bits dbk records: permissions, setuid, setgid, sticky. */
export const MODE_BITS = 0o7777;

/**
 * Why an entry cannot be restored as it stands, or undefined. Checked file by file against the
 * revision's chunk lengths, so that one damaged entry breaks its own file and nothing else: a
 * range that contradicts the size would otherwise ask for a negative length, and an offset past
 * its chunk's end would read the neighbouring chunk's bytes.
 */
export function entryProblem(e: FileEntry, chunkLengths: ArrayLike<number>): string | undefined {
  if (e.mode > MODE_BITS) return `mode 0${e.mode.toString(8)} is not a file mode`;
  if (!Number.isSafeInteger(e.mtimeS) || e.mtimeNs > 999_999_999) return 'its modification time is not a time';
  const r = e.range;
  if (!r) return e.type === 'file' && e.size > 0 ? 'a file with content but no chunks' : undefined;
  const first = chunkLengths[r.startChunk];
  const last = chunkLengths[r.endChunk];
  if (first === undefined || last === undefined) return `chunks ${r.startChunk}-${r.endChunk} are not in the revision`;
  if (r.startOffset >= first || r.endOffset < 1 || r.endOffset > last || (r.startChunk === r.endChunk && r.startOffset >= r.endOffset)) {
    return `offsets ${r.startOffset}-${r.endOffset} lie outside its chunks`;
  }
  let length = r.startChunk === r.endChunk ? r.endOffset - r.startOffset : first - r.startOffset + r.endOffset;
  for (let i = r.startChunk + 1; i < r.endChunk && length <= e.size; i++) length += chunkLengths[i]!;
  if (length !== e.size) return `its chunks hold ${length} bytes where its size is ${e.size}`;
  return undefined;
}

function readEntry(r: BinaryReader, chunkCount: number, index: number): FileEntry {
  const type = readType(r);
  const path = nameFromBytes(r.counted(MAX_PATH_BYTES));
  const e: FileEntry = { type, path, mode: r.varint(), mtimeS: r.signed(), mtimeNs: r.varint(), size: r.varint(), uid: r.varint(), gid: r.varint() };
  if (type === 'file' && e.size > 0) readContent(r, e, chunkCount);
  else if (type === 'symlink') e.target = nameFromBytes(r.counted(MAX_PATH_BYTES));
  else if (type === 'chardev' || type === 'blockdev') e.rdev = r.varint();
  const count = r.varint();
  if (count > r.remaining) throw corrupt('file list', `${path}: ${count} extras at byte ${r.pos}`);
  for (let i = 0; i < count; i++) readExtra(r, e, index);
  return e;
}

function readType(r: BinaryReader): EntryType {
  const type = CODE_TYPE[r.byte()];
  if (!type) throw corrupt('file list', `unknown entry type at byte ${r.pos - 1}`);
  return type;
}

function readContent(r: BinaryReader, e: FileEntry, chunkCount: number): void {
  const range = { startChunk: r.varint(), startOffset: r.varint(), endChunk: r.varint(), endOffset: r.varint() };
  if (range.endChunk >= chunkCount || range.startChunk > range.endChunk) {
    throw corrupt('file list', `${e.path}: chunk range ${range.startChunk}-${range.endChunk} outside 0-${chunkCount - 1}`);
  }
  e.range = range;
  e.hash = Buffer.from(r.bytes(32));
}

function readExtra(r: BinaryReader, e: FileEntry, index: number): void {
  const tag = r.varint();
  const bytes = r.counted(MAX_EXTRA_BYTES + MAX_XATTR_NAME + 8);
  switch (tag) {
    case TAG_HARD_LINK: {
      const first = new BinaryReader(bytes, 'file list').varint();
      // the first of a group comes earlier, and only files are linked
      if (first >= index || e.type !== 'file') throw corrupt('file list', `${e.path}: hard link to entry ${first}`);
      e.linkOf = first;
      return;
    }
    case TAG_USER:
      e.user = ownerNames.of(bytes);
      return;
    case TAG_GROUP:
      e.group = ownerNames.of(bytes);
      return;
    case TAG_XATTR: {
      const x = new BinaryReader(bytes, 'file list');
      const name = nameFromBytes(x.counted(MAX_XATTR_NAME));
      (e.xattrs ??= []).push({ name, value: Buffer.from(x.bytes(x.remaining)) });
      return;
    }
    default:
    // written by a later version: what this one does not know it leaves alone
  }
}

/**
 * Owner names repeat from entry to entry: the few there are are encoded and decoded once and
 * shared, rather than a string (or a buffer) per entry, two per file of a million-file list.
 */
const ownerNames = {
  bytes: new Map<string, Buffer>(),
  of(bytes: Buffer): string {
    for (const [name, known] of this.bytes) if (known.equals(bytes)) return name;
    const name = bytes.toString('utf8');
    if (this.bytes.size < 64) this.bytes.set(name, Buffer.from(bytes));
    return name;
  },
  bytesOf(name: string): Buffer {
    let b = this.bytes.get(name);
    if (b === undefined) {
      b = Buffer.from(name, 'utf8');
      if (this.bytes.size < 64) this.bytes.set(name, b);
    }
    return b;
  },
};

/** Version 1: paths as UTF-8 text, times as float milliseconds, no extras. */
function readEntryV1(r: BinaryReader, chunkCount: number): FileEntry {
  const type = readType(r);
  if (type !== 'file' && type !== 'dir' && type !== 'symlink') throw corrupt('file list', `unknown entry type at byte ${r.pos - 1}`);
  const path = r.string();
  const mode = r.varint();
  const mtimeMs = r.float64();
  const e: FileEntry = { type, path, mode, ...fromMilliseconds(mtimeMs), size: r.varint(), uid: r.varint(), gid: r.varint() };
  if (type === 'file' && e.size > 0) readContent(r, e, chunkCount);
  else if (type === 'symlink') e.target = r.string();
  return e;
}

/** Seconds and nanoseconds of a time in float milliseconds (NaN stays NaN, for entryProblem to find). */
export function fromMilliseconds(ms: number): { mtimeS: number; mtimeNs: number } {
  const s = Math.floor(ms / 1000);
  return { mtimeS: s, mtimeNs: Math.min(999_999_999, Math.round((ms - s * 1000) * 1e6)) };
}

/** An entry's modification time in milliseconds (for display and for Node calls that take no more). */
export const mtimeMsOf = (e: Pick<FileEntry, 'mtimeS' | 'mtimeNs'>) => e.mtimeS * 1000 + e.mtimeNs / 1e6;
