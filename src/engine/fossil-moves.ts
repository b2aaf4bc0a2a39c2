// Moving a chunk between its two names, chunks/<id> and its fossil: each move is one rename that
// never overwrites, so every outcome of a race (another client uploading the chunk again, another
// prune moving it first, a retried call whose first attempt succeeded) is read from the storage
// itself, never assumed.

import pLimit from 'p-limit';
import { isDbkError } from '../errors.js';
import { type ChunkId, chunkPath, fossilPath } from '../format/ids.js';
import type { Repository } from './repository.js';

/**
 * What became of a chunk that a collection wants as a fossil:
 *   'fossil'  it is a fossil now (renamed, or it was one already);
 *   'both'    a fossil exists and the chunk was uploaded again beside it;
 *   'gone'    neither exists.
 */
export type Fossilized = 'fossil' | 'both' | 'gone';

export async function fossilize(repo: Repository, id: ChunkId): Promise<Fossilized> {
  try {
    await repo.backend.rename(chunkPath(id), fossilPath(id));
    return 'fossil';
  } catch (e) {
    if (isDbkError(e, 'ALREADY_EXISTS')) return 'both';
    if (!isDbkError(e, 'NOT_FOUND')) throw e;
  }
  return (await repo.backend.stat(fossilPath(id))) ? 'fossil' : 'gone';
}

/** Where a chunk is after an attempt to bring it back: 'resurrected' from its fossil, 'present' as a chunk already, or 'lost'. */
export type Rescue = 'resurrected' | 'present' | 'lost';

/** Renames a fossil back into its chunk, unless the chunk is there already. The fossil, if any is left, is its collection's to delete. */
export async function resurrect(repo: Repository, id: ChunkId): Promise<Rescue> {
  try {
    await repo.backend.rename(fossilPath(id), chunkPath(id));
    return 'resurrected';
  } catch (e) {
    if (isDbkError(e, 'ALREADY_EXISTS')) return 'present'; // uploaded again meanwhile
    if (!isDbkError(e, 'NOT_FOUND')) throw e;
  }
  return (await repo.backend.stat(chunkPath(id))) ? 'present' : 'lost';
}

/** Looks up every chunk, bringing fossils back; returns those that exist in neither form. */
export async function findLostChunks(repo: Repository, ids: Iterable<ChunkId>): Promise<ChunkId[]> {
  const limit = pLimit(repo.threads);
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
