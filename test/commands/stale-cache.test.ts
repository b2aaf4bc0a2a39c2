// A cache another client's prune has made stale must never pass a missing chunk, and a cached
// revision that was deleted must never stand in for a new revision under the same number.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageCache } from '../../cache/storage-cache.js';
import { obtainChunkListing } from '../../src/catalog/chunk-listing.js';
import { RecordBook } from '../../src/catalog/record-book.js';
import { backup } from '../../src/commands/backup.js';
import { check } from '../../src/commands/check.js';
import { prune } from '../../src/commands/prune.js';
import { chunkPath } from '../../src/format/ids.js';
import { silentLogger } from '../../src/log.js';
import { Repository } from '../../src/storage/repository.js';
import { joinRepo, put } from '../support/engine.js';
import { makeClient } from '../support/repos.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

async function setup() {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const docs = await makeClient(root, 'docs', storage);
  const mail = await makeClient(root, 'mail', storage);
  const rnd = seededRandom(8);
  docs.write('a.bin', rnd.bytes(6000));
  docs.write('b.bin', rnd.bytes(6000));
  await docs.backup();
  docs.remove('b.bin');
  await docs.backup();
  mail.write('m.bin', rnd.bytes(3000));
  await mail.backup();
  return { root, storage, docs, mail, rnd };
}

async function metadataChunkPaths(repoDir: string, revision: number): Promise<string[]> {
  const repo = await Repository.open({ repoDir });
  try {
    const s = (await repo.loadRevision(repo.snapshotId, revision)).sequences;
    return [...s.files, ...s.chunkHashes, ...s.chunkLengths].map((h) => chunkPath(repo.chunkId(h)));
  } finally {
    await repo.close();
  }
}

describe('stale caches', () => {
  it("a cached chunk list learns from prune records what another client's prune deleted", async () => {
    const { root, storage, docs, mail } = await setup();
    expect((await check({ repoDir: docs.dir, all: true })).ok).toBe(true); // docs caches the chunk list
    // keep copies of revision 1 and of its metadata chunks, to bring back later
    const saved = path.join(root, 'saved');
    const metadata = await metadataChunkPaths(docs.dir, 1);
    for (const p of ['snapshots/docs/1', ...metadata]) {
      fs.mkdirSync(path.dirname(path.join(saved, p)), { recursive: true });
      fs.copyFileSync(path.join(storage, p), path.join(saved, p));
    }
    const pruned = await prune({ repoDir: mail.dir, snapshotId: 'docs', revisions: [1], exclusive: true });
    expect(pruned.execution!.deletedChunks).toBeGreaterThan(0);

    // the engine alone: the cached list, brought up to date, no longer has the deleted chunks
    const repo = await Repository.open({ repoDir: docs.dir });
    const cache = StorageCache.open({ dir: repo.cacheDir, log: silentLogger });
    try {
      const { listing, info } = await obtainChunkListing(repo, cache, await RecordBook.open(repo), { fromCache: true, log: silentLogger });
      expect(info.source).toBe('cache');
      const dict = cache.dictionary();
      for (const id of pruned.plan.fossilize) {
        expect(dict.findHex(id)).toBeGreaterThanOrEqual(0);
        expect(listing.chunkSize(dict.findHex(id))).toBeUndefined();
      }
    } finally {
      cache.close();
      await repo.close();
    }

    // the command: a revision that raced the exclusive prune references the deleted data chunks
    for (const p of ['snapshots/docs/1', ...metadata]) fs.copyFileSync(path.join(saved, p), path.join(storage, p));
    const r = await check({ repoDir: docs.dir, all: true, fromCache: true });
    expect(r.ok).toBe(false);
    const missing = r.findings.flatMap((f) => (f.kind === 'chunk' && f.problem === 'missing' ? [f.chunkId as string] : []));
    const metadataIds = metadata.map((p) => p.slice('chunks/'.length).replace('/', ''));
    expect(missing.sort()).toEqual(pruned.plan.fossilize.filter((id) => !metadataIds.includes(id)).sort());
    expect(r.findings.every((f) => f.kind !== 'chunk' || f.files.some((a) => a.paths.includes('b.bin')))).toBe(true);
  });

  it("the number of an id's newest revision deleted with -exclusive is never used again, so no cache takes a new revision for it", async () => {
    const { storage, docs, mail, rnd } = await setup();
    await check({ repoDir: docs.dir, all: true }); // docs caches revision 2 of docs
    await prune({ repoDir: mail.dir, snapshotId: 'docs', revisions: [2], exclusive: true });
    expect(fs.readdirSync(path.join(storage, 'snapshots', 'docs')).sort()).toEqual(['1', '2.deleted']);
    // another client of the same snapshot id backs up, with a file list of the same size as revision 2's
    const other = await joinRepo({ storageDir: storage, encrypted: false }, { snapshotId: 'docs' });
    put(other.repoDir, 'new.bin', rnd.bytes(4000));
    expect((await backup(other.open)).revision).toBe(3);

    const stale = await check({ repoDir: docs.dir, stats: true });
    const fresh = await check({ repoDir: other.repoDir, stats: true });
    expect(stale.stats).toEqual(fresh.stats);
    expect(stale.stats!.find((s) => s.snapshotId === 'docs')!.revisions.map((r) => r.files)).toEqual([2, 1]);
  });
});
