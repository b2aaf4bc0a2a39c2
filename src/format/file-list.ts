// The file list of a revision: one binary record per file, folder or symlink, in backup order.
// Stored as a metadata sequence (cut into deduplicated metadata chunks), so an unchanged run of
// entries costs nothing in the next revision. A leading version byte lets the format evolve.
//
// entry := type | path | mode | mtimeMs (f64) | size | uid | gid | type-specific
//   file with size > 0: startChunk startOffset endChunk endOffset (end exclusive) | sha256 (32)
//   symlink: target

import { corrupt } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';

export const FILE_LIST_VERSION = 1;

export type EntryType = 'file' | 'dir' | 'symlink';
const TYPE_CODE: Record<EntryType, number> = { file: 1, dir: 2, symlink: 3 };
const CODE_TYPE: Record<number, EntryType> = { 1: 'file', 2: 'dir', 3: 'symlink' };

/** Where a file's bytes sit in the revision's chunk sequence. */
export interface ChunkRange {
  startChunk: number;
  startOffset: number;
  endChunk: number;
  /** exclusive */
  endOffset: number;
}

export interface FileEntry {
  /** relative to the repository, '/'-separated */
  path: string;
  type: EntryType;
  /** permission bits (and setuid/setgid/sticky) */
  mode: number;
  mtimeMs: number;
  size: number;
  uid: number;
  gid: number;
  /** files with content */
  range?: ChunkRange;
  /** SHA-256 of the content, for files with content */
  hash?: Buffer;
  /** symlinks: the target as stored in the link */
  target?: string;
}

export function encodeFileList(entries: Iterable<FileEntry>): Buffer {
  const w = new BinaryWriter().byte(FILE_LIST_VERSION);
  for (const e of entries) {
    w.byte(TYPE_CODE[e.type]).string(e.path).varint(e.mode).float64(e.mtimeMs).varint(e.size).varint(e.uid).varint(e.gid);
    if (e.type === 'file' && e.size > 0) {
      const r = e.range;
      if (!r || !e.hash) throw new Error(`file entry without chunks: ${e.path}`);
      w.varint(r.startChunk).varint(r.startOffset).varint(r.endChunk).varint(r.endOffset).bytes(e.hash);
    } else if (e.type === 'symlink') {
      w.string(e.target ?? '');
    }
  }
  return w.toBuffer();
}

export function decodeFileList(data: Buffer, chunkCount: number): FileEntry[] {
  const r = new BinaryReader(data, 'file list');
  if (data.length === 0) throw corrupt('file list', 'empty');
  const version = r.byte();
  if (version !== FILE_LIST_VERSION) throw corrupt('file list', `unsupported version ${version}`);
  const out: FileEntry[] = [];
  while (!r.done) out.push(readEntry(r, chunkCount));
  return out;
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
  if (!Number.isFinite(e.mtimeMs)) return 'its modification time is not a number';
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

function readEntry(r: BinaryReader, chunkCount: number): FileEntry {
  const type = CODE_TYPE[r.byte()];
  if (!type) throw corrupt('file list', `unknown entry type at byte ${r.pos - 1}`);
  const e: FileEntry = { type, path: r.string(), mode: r.varint(), mtimeMs: r.float64(), size: r.varint(), uid: r.varint(), gid: r.varint() };
  if (type === 'file' && e.size > 0) {
    const range = { startChunk: r.varint(), startOffset: r.varint(), endChunk: r.varint(), endOffset: r.varint() };
    if (range.endChunk >= chunkCount || range.startChunk > range.endChunk) {
      throw corrupt('file list', `${e.path}: chunk range ${range.startChunk}-${range.endChunk} outside 0-${chunkCount - 1}`);
    }
    e.range = range;
    e.hash = Buffer.from(r.bytes(32));
  } else if (type === 'symlink') {
    e.target = r.string();
  }
  return e;
}
