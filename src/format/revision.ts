// The revision file, snapshots/<id>/<n>: a small record naming the revision and pointing at its
// three metadata sequences by the hashes of their metadata chunks. Sealed in the object envelope
// (kind REVISION), so on an encrypted storage it is encrypted too: the hashes inside are what
// opens the metadata chunks.
//
// JSON: version 2 adds fileListBytes, the length of the file list, so that a reader knows
// exactly how much the file-list sequence may hold before reading it; version 1 is still read.

import { corrupt, usage } from '../errors.js';
import { asChunkHash, type ChunkHash } from './ids.js';

export const REVISION_VERSION = 2;

/** The largest revision file: a revision names its metadata chunks, a few thousand at most. */
export const MAX_REVISION_BYTES = 16 << 20;
/** The most data chunks one revision may reference: their hashes are read whole (1 GiB). */
export const MAX_REVISION_CHUNKS = 1 << 25;
/** The largest file list (about 15 million files), read whole; version 1 revisions do not declare theirs. */
export const MAX_FILE_LIST_BYTES = 1 << 30;

/** The metadata sequences of a revision, each as the hashes of the metadata chunks that hold it. */
export interface RevisionSequences {
  /** encoded file list (format/file-list.ts) */
  files: ChunkHash[];
  /** the data chunk hashes, 32 bytes each, in sequence order */
  chunkHashes: ChunkHash[];
  /** the data chunk lengths, uint32 little-endian each */
  chunkLengths: ChunkHash[];
}

export interface Revision {
  snapshotId: string;
  revision: number;
  /** milliseconds since the epoch */
  startTime: number;
  endTime: number;
  tag: string;
  /** files (not folders or links) in the revision and their total size */
  fileCount: number;
  fileBytes: number;
  /** entries of the sequence of data chunks (a chunk used twice counts twice) */
  chunkCount: number;
  /** length of the encoded file list; undefined in version 1 revisions */
  fileListBytes?: number;
  /** anything the client wants to remember: host, options used */
  options: Record<string, string | number | boolean>;
  sequences: RevisionSequences;
}

export function encodeRevision(r: Revision): Buffer {
  return Buffer.from(JSON.stringify({ version: REVISION_VERSION, ...r }));
}

const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

export function decodeRevision(data: Buffer): Revision {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(data.toString('utf8'));
  } catch {
    throw corrupt('revision', 'not valid JSON');
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw corrupt('revision', 'not a JSON object');
  if (j.version !== 1 && j.version !== REVISION_VERSION) throw corrupt('revision', `unsupported revision format ${String(j.version)}`);
  const s = j.sequences as Record<string, unknown> | undefined;
  const hashes = (v: unknown, what: string): ChunkHash[] => {
    if (!Array.isArray(v)) throw corrupt('revision', `${what} is not a list`);
    return v.map((h) => asChunkHash(String(h)));
  };
  if (typeof j.snapshotId !== 'string' || !isCount(j.revision) || typeof j.tag !== 'string') throw corrupt('revision', 'bad header fields');
  for (const k of ['startTime', 'endTime', 'fileCount', 'fileBytes', 'chunkCount']) {
    if (!isCount(j[k])) throw corrupt('revision', `bad ${k}`);
  }
  if ((j.revision as number) < 1) throw corrupt('revision', 'bad revision number');
  if ((j.chunkCount as number) > MAX_REVISION_CHUNKS) throw corrupt('revision', `${j.chunkCount as number} chunks, more than the ${MAX_REVISION_CHUNKS} a revision may have`);
  const fileListBytes = j.version === 1 ? undefined : j.fileListBytes;
  if (j.version !== 1 && (!isCount(fileListBytes) || (fileListBytes as number) < 1 || (fileListBytes as number) > MAX_FILE_LIST_BYTES)) {
    throw corrupt('revision', 'bad fileListBytes');
  }
  const options = j.options;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw corrupt('revision', 'bad options');
  return {
    snapshotId: j.snapshotId,
    revision: j.revision as number,
    startTime: j.startTime as number,
    endTime: j.endTime as number,
    tag: j.tag,
    fileCount: j.fileCount as number,
    fileBytes: j.fileBytes as number,
    chunkCount: j.chunkCount as number,
    ...(fileListBytes === undefined ? {} : { fileListBytes: fileListBytes as number }),
    options: options as Revision['options'],
    sequences: {
      files: hashes(s?.files, 'files'),
      chunkHashes: hashes(s?.chunkHashes, 'chunkHashes'),
      chunkLengths: hashes(s?.chunkLengths, 'chunkLengths'),
    },
  };
}

export const revisionPath = (snapshotId: string, revision: number) => `snapshots/${snapshotId}/${revision}`;

/**
 * An empty file an -exclusive prune leaves when it deletes an id's newest revision, so that the
 * number is never used again: every client's cache knows a revision by its id and number.
 */
export const deletedRevisionPath = (snapshotId: string, revision: number) => `snapshots/${snapshotId}/${revision}.deleted`;

/** The number a revision file name (n) or deleted-revision marker (n.deleted) holds, or undefined. */
export function revisionNumberOf(name: string): { revision: number; deleted: boolean } | undefined {
  const m = /^([1-9][0-9]{0,15})(\.deleted)?$/.exec(name);
  return m ? { revision: Number(m[1]), deleted: m[2] !== undefined } : undefined;
}

/** Snapshot ids become folder names on every backend: keep them to a portable alphabet. */
export function checkSnapshotId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(id)) {
    throw usage(`bad snapshot id '${id}': use letters, digits and . _ @ -, starting with a letter or digit`);
  }
  return id;
}
