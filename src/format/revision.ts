// The revision file, snapshots/<id>/<n>: a small record naming the revision and pointing at its
// three metadata sequences by the hashes of their metadata chunks. Sealed in the object envelope
// (kind REVISION), so on an encrypted storage it is encrypted too: the hashes inside are what
// opens the metadata chunks.

import { corrupt, usage } from '../errors.js';
import { type ChunkHash, asChunkHash } from './ids.js';

export const REVISION_VERSION = 1;

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
  if (j.version !== REVISION_VERSION) throw corrupt('revision', `unsupported revision format ${String(j.version)}`);
  const s = j.sequences as Record<string, unknown> | undefined;
  const hashes = (v: unknown, what: string): ChunkHash[] => {
    if (!Array.isArray(v)) throw corrupt('revision', `${what} is not a list`);
    return v.map((h) => asChunkHash(String(h)));
  };
  if (typeof j.snapshotId !== 'string' || !isCount(j.revision) || typeof j.tag !== 'string') throw corrupt('revision', 'bad header fields');
  for (const k of ['startTime', 'endTime', 'fileCount', 'fileBytes', 'chunkCount']) {
    if (!isCount(j[k])) throw corrupt('revision', `bad ${k}`);
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
    options: options as Revision['options'],
    sequences: {
      files: hashes(s?.files, 'files'),
      chunkHashes: hashes(s?.chunkHashes, 'chunkHashes'),
      chunkLengths: hashes(s?.chunkLengths, 'chunkLengths'),
    },
  };
}

export const revisionPath = (snapshotId: string, revision: number) => `snapshots/${snapshotId}/${revision}`;

/** Snapshot ids become folder names on every backend: keep them to a portable alphabet. */
export function checkSnapshotId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(id)) {
    throw usage(`bad snapshot id '${id}': use letters, digits and . _ @ -, starting with a letter or digit`);
  }
  return id;
}
