// dbk copy: revisions from one storage of the repository to another made with `add -copy` (same
// chunk keys, so a chunk has the same id on both and nothing is chunked again).
//
// The copy works as a backup does on the destination: it announces itself there first, so that
// no prune deletes what it relies on, then lists the destination's chunks (a listing made after
// the announcement is as good as a stat: a collection that makes a listed chunk a fossil later
// finds this copy running and waits for it). Revision by revision, oldest first, it sends the
// data chunks the destination lacks, then the revision's metadata chunks, then its revision file:
// a copy cut short leaves whole revisions and some chunks, and a rerun lists those and sends the rest.

import pLimit from 'p-limit';
import { listChunkIds } from '../catalog/chunk-listing.js';
import { BackupAnnouncement, makeSureOfChunks } from '../catalog/running-backups.js';
import { DbkError, isDbkError, usage } from '../errors.js';
import { sameChunkKeys } from '../format/config.js';
import type { ChunkHash, ChunkId } from '../format/ids.js';
import { deletedRevisionPath, MAX_FILE_LIST_BYTES, type Revision } from '../format/revision.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface CopyOptions extends Omit<OpenOptions, 'storageName'> {
  /** default: the repository's first storage */
  from?: string;
  to: string;
  /** only this snapshot id (default: every id on the source) */
  snapshotId?: string;
  /** only these revisions (needs snapshotId) */
  revisions?: number[];
  onProgress?: (p: CopyProgress) => void;
}

export interface CopyProgress {
  revisions: number;
  totalRevisions: number;
  chunks: number;
  bytes: number;
}

export interface CopyResult {
  from: string;
  to: string;
  /** copied now, as "id/revision" */
  copied: string[];
  /** already on the destination, the same */
  present: string[];
  /** not copied: gone from the source meanwhile, or a number the destination marked deleted */
  skipped: string[];
  /** chunks sent, and their stored bytes */
  chunks: number;
  bytes: number;
  /** chunks the destination held already and were not sent */
  skippedChunks: number;
  /** chunk files copied byte for byte (the storages share their encryption key) */
  bitIdentical: boolean;
}

export async function copy(o: CopyOptions): Promise<CopyResult> {
  if (o.revisions?.length && !o.snapshotId) throw usage('-r needs -id: revision numbers belong to one snapshot id');
  const src = await Repository.open({ ...o, ...(o.from ? { storageName: o.from } : {}) });
  try {
    if (src.storageName === o.to) throw usage(`-from and -to name the same storage '${o.to}'`);
    const dst = await Repository.open({ ...o, storageName: o.to });
    try {
      checkCompatible(src, dst);
      const chosen = await chooseRevisions(src, o);
      const announcement = await BackupAnnouncement.announce(dst, chosen[0]?.snapshotId ?? src.snapshotId);
      try {
        return await copyRevisions(src, dst, chosen, announcement, o.onProgress);
      } finally {
        await announcement.withdraw();
      }
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

function checkCompatible(src: Repository, dst: Repository): void {
  if (!sameChunkKeys(src.config.keys, dst.config.keys)) {
    throw new DbkError('CONFIG', `storage '${dst.storageName}' was not made as a copy of '${src.storageName}': their chunk keys differ`, {
      hint: `add the destination with 'dbk add -copy ${src.storageName} NAME SNAPSHOT_ID URL' on an empty storage`,
    });
  }
}

async function chooseRevisions(src: Repository, o: CopyOptions): Promise<{ snapshotId: string; revision: number }[]> {
  const ids = o.snapshotId ? [o.snapshotId] : await src.listSnapshotIds();
  const chosen: { snapshotId: string; revision: number }[] = [];
  for (const snapshotId of ids) {
    const numbers = await src.listRevisions(snapshotId);
    const wanted = o.revisions?.length ? o.revisions : numbers;
    const missing = wanted.filter((n) => !numbers.includes(n));
    if (missing.length > 0) throw usage(`'${snapshotId}' on '${src.storageName}' has no revision ${missing.join(', ')}`);
    for (const revision of wanted) chosen.push({ snapshotId, revision });
  }
  return chosen;
}

async function copyRevisions(
  src: Repository,
  dst: Repository,
  chosen: { snapshotId: string; revision: number }[],
  announcement: BackupAnnouncement,
  onProgress: CopyOptions['onProgress'],
): Promise<CopyResult> {
  const bitIdentical = sameEncryption(src, dst);
  let onDestination = await listChunkIds(dst); // after the announcement: see the top of this file
  const result: CopyResult = { from: src.storageName, to: dst.storageName, copied: [], present: [], skipped: [], chunks: 0, bytes: 0, skippedChunks: 0, bitIdentical };
  const limit = pLimit(src.threads);
  const send = async (hashes: readonly ChunkHash[]): Promise<void> => {
    const wanted = new Map<ChunkId, ChunkHash>();
    for (const h of hashes) {
      const id = src.chunkId(h);
      if (onDestination.has(id)) result.skippedChunks++;
      else wanted.set(id, h);
    }
    await Promise.all(
      [...wanted].map(([id, hash]) =>
        limit(async () => {
          const encoded = await encodedFor(src, dst, hash, bitIdentical);
          if (await dst.storeChunk(id, encoded)) {
            result.chunks++;
            result.bytes += encoded.length;
          }
          onDestination.add(id);
          onProgress?.({ revisions: result.copied.length + result.present.length, totalRevisions: chosen.length, chunks: result.chunks, bytes: result.bytes });
        }),
      ),
    );
  };
  for (const { snapshotId, revision } of chosen) {
    if (await dst.backend.stat(deletedRevisionPath(snapshotId, revision))) {
      dst.log.warn(`revision ${revision} of '${snapshotId}' was deleted on '${dst.storageName}' by an exclusive prune: its number is not used again`);
      result.skipped.push(`${snapshotId}/${revision}`);
      continue;
    }
    const r = await src.loadRevision(snapshotId, revision).catch((e: unknown) => {
      if (!isDbkError(e, 'NOT_FOUND')) throw e;
      src.log.warn(`revision ${revision} of '${snapshotId}' is gone from '${src.storageName}' (pruned while this copy ran): not copied`);
      return undefined;
    });
    if (!r) {
      result.skipped.push(`${snapshotId}/${revision}`);
      continue;
    }
    if (await alreadyThere(dst, r)) {
      result.present.push(`${snapshotId}/${revision}`);
      continue;
    }
    const data = await src.readChunkHashes(r);
    const metadata = [...r.sequences.files, ...r.sequences.chunkHashes, ...r.sequences.chunkLengths];
    await send(data); // data first, then what names it, then the revision: never a revision without its chunks
    await send(metadata);
    const ids = [...data, ...metadata].map((h) => dst.chunkId(h));
    if (await makeSureOfChunks(dst, announcement, ids, 'this copy')) {
      // announced anew: the old listing protects nothing from here on (a prune may have taken
      // what it names while no announcement stood), so later revisions go by a new one
      onDestination = await listChunkIds(dst);
    }
    await dst.saveRevision({ ...r, fileListBytes: r.fileListBytes ?? (await fileListBytes(src, r)) }).catch((e: unknown) => {
      throw isDbkError(e, 'ALREADY_EXISTS') ? taken(dst, r) : e;
    });
    result.copied.push(`${snapshotId}/${revision}`);
  }
  return result;
}

/** Whether chunk files may go across as they are: both storages seal with the same key (or neither seals). */
function sameEncryption(src: Repository, dst: Repository): boolean {
  const [a, b] = [src.config.keys.encryptionKey, dst.config.keys.encryptionKey];
  return a === undefined ? b === undefined : b !== undefined && Buffer.from(a).equals(b);
}

/**
 * The chunk as the destination stores it. Every chunk is decoded and verified against its hash,
 * so a damaged chunk is reported, never copied; when the storages seal alike, the source's bytes
 * go across unchanged.
 */
async function encodedFor(src: Repository, dst: Repository, hash: ChunkHash, bitIdentical: boolean): Promise<Buffer> {
  const maxLength = Math.max(src.config.chunkSizes.maximum, src.config.metadataChunkSizes.maximum);
  return bitIdentical ? src.readStoredChunk(hash, maxLength) : dst.encodeChunk(await src.readChunk(hash, maxLength), hash);
}

/** True when the destination has this revision already, copied before; an error when it has another under that number. */
async function alreadyThere(dst: Repository, r: Revision): Promise<boolean> {
  const there = await dst.loadRevision(r.snapshotId, r.revision).catch((e: unknown) => {
    if (isDbkError(e, 'NOT_FOUND')) return undefined;
    throw e;
  });
  if (!there) return false;
  if (there.startTime === r.startTime && JSON.stringify(there.sequences) === JSON.stringify(r.sequences)) return true;
  throw taken(dst, r);
}

const taken = (dst: Repository, r: Revision) =>
  new DbkError('CONFLICT', `revision ${r.revision} of '${r.snapshotId}' on '${dst.storageName}' is another backup than the one being copied: nothing was overwritten`, {
    hint: 'copy into a storage where that snapshot id is only ever copied to, or copy other revisions with -r',
  });

/** The encoded file list's length, for revisions written before revisions recorded it. */
async function fileListBytes(src: Repository, r: Revision): Promise<number> {
  let bytes = 0;
  for await (const piece of src.sequencePieces(r.sequences.files, { max: MAX_FILE_LIST_BYTES }, 'file list')) bytes += piece.length;
  return bytes;
}
