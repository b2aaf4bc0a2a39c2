// Backup's hand-off to the per-revision cache: a revision this client has just written goes into
// the cache at once (its chunk hashes are in memory anyway), so no check or prune here ever has
// to download it. The cache only saves work: if this fails, the backup still succeeded.

import { toIntSet } from '../../cache/int-sets.js';
import { idCacheEnabled, withStorageCache } from '../catalog/cache-access.js';
import type { ChunkHash } from '../format/ids.js';
import type { Revision } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';

export async function cacheWrittenRevision(repo: Repository, r: Revision, dataHashes: readonly ChunkHash[]): Promise<void> {
  if (!idCacheEnabled(repo)) return;
  try {
    await withStorageCache(repo, async ({ revisions, numbering }) => {
      const s = r.sequences;
      const hashes = Buffer.from([...s.files, ...s.chunkHashes, ...s.chunkLengths, ...dataHashes].join(''), 'hex');
      revisions.add(r.snapshotId, r.revision, toIntSet(numbering().numbersOf(hashes)), r, null);
    });
  } catch (e) {
    repo.log.warn(`revision ${r.revision} was saved, but could not be added to the local cache: ${(e as Error).message}`);
  }
}
