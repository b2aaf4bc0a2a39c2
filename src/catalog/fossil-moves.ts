// Moving a chunk between its two names, chunks/<id> and its fossil: each move is one rename that
// never overwrites, so every outcome of a race (another client uploading the chunk again, another
// prune moving it first, a retried call whose first attempt succeeded) is read from the storage
// itself, never assumed.

import pLimit from 'p-limit';
import { DbkError, isDbkError } from '../errors.js';
import { type ChunkId, chunkPath, fossilPath } from '../format/ids.js';
import type { Repository } from '../storage/repository.js';

/** What became of a chunk that a collection wants as a fossil: a fossil now (renamed, or one already), or gone. */
export type Fossilized = 'fossil' | 'gone';

/**
 * Makes a fossil of a chunk. When the chunk was uploaded again beside an older collection's
 * fossil, that fossil (the same bytes) is replaced by this chunk, so that the chunk's name is gone
 * before the caller lists the running backups: any backup that found the chunk there is among them.
 * (Deleting the copy later instead would let a backup announced in between trust it unrecorded.)
 * A crash between the two steps leaves the chunk itself, which a rerun renames.
 */
export async function fossilize(repo: Repository, id: ChunkId): Promise<Fossilized> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await repo.backend.rename(chunkPath(id), fossilPath(id));
      return 'fossil';
    } catch (e) {
      if (isDbkError(e, 'NOT_FOUND')) return (await repo.backend.stat(fossilPath(id))) ? 'fossil' : 'gone';
      if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
    }
    await repo.backend.delete(fossilPath(id));
  }
  throw new DbkError('CONFLICT', `chunk ${id} keeps appearing beside its fossil: is another prune running?`);
}

/** Where a chunk is after an attempt to bring it back: 'resurrected' from its fossil, 'present' as a chunk already, or 'lost'. */
export type Rescue = 'resurrected' | 'present' | 'lost';

/**
 * Renames a fossil back into its chunk, unless the chunk is there already. The fossil, if any is
 * left, is its collection's to delete. On a storage whose rename is a copy and a delete (S3) the
 * fossil is only copied: between the copy and the delete, a prune could make a fossil of the chunk
 * anew (replacing this one), and the delete would then take away the chunk's only name.
 */
export async function resurrect(repo: Repository, id: ChunkId): Promise<Rescue> {
  const backend = repo.backend;
  try {
    await (backend.copy ? backend.copy(fossilPath(id), chunkPath(id)) : backend.rename(fossilPath(id), chunkPath(id)));
    return 'resurrected';
  } catch (e) {
    if (isDbkError(e, 'ALREADY_EXISTS')) return 'present'; // uploaded again meanwhile
    if (!isDbkError(e, 'NOT_FOUND')) throw e;
  }
  return (await repo.backend.stat(chunkPath(id))) ? 'present' : 'lost';
}

/** Looks up every chunk, bringing fossils back; returns those that exist in neither form. */
export async function findLostChunks(repo: Repository, ids: Iterable<ChunkId>): Promise<ChunkId[]> {
  const limit = pLimit(repo.smallCalls);
  const lost: ChunkId[] = [];
  await Promise.all(
    [...ids].map((id) =>
      limit(async () => {
        if ((await repo.backend.stat(chunkPath(id))) === undefined && (await resurrect(repo, id)) === 'lost') lost.push(id);
      }),
    ),
  );
  return lost;
}
