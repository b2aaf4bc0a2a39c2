import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/commands/check.js';
import { list } from '../../src/commands/list.js';
import { makeRepo, randomFiles } from '../support/repos.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

describe('check', () => {
  it('passes on a sound storage, from a fresh listing and from the cache', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const repo = await makeRepo(root, 'docs', storage);
    const rnd = seededRandom(1);
    randomFiles(repo, rnd, 5);
    await repo.backup();
    randomFiles(repo, rnd, 2);
    await repo.backup();
    const fresh = await check({ repoDir: repo.dir });
    expect(fresh.ok).toBe(true);
    expect(fresh.listing.source).toBe('storage');
    expect(fresh.revisions).toEqual([{ snapshotId: 'docs', revision: 1 }, { snapshotId: 'docs', revision: 2 }]);
    expect(fresh.referencedChunks).toBeGreaterThan(10);
    const warm = await check({ repoDir: repo.dir, fromCache: true });
    expect(warm.listing.source).toBe('cache');
    expect(warm.referencedChunks).toBe(fresh.referencedChunks);
  });

  it('reports a missing chunk with its revisions and files, even from a stale cached list', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const repo = await makeRepo(root, 'docs', storage);
    repo.write('a.bin', seededRandom(2).bytes(5000));
    repo.write('b.bin', seededRandom(3).bytes(5000));
    await repo.backup();
    expect((await check({ repoDir: repo.dir })).ok).toBe(true); // caches the list
    const [listed] = await list({ repoDir: repo.dir, files: true, chunks: true });
    const b = listed!.files!.find((f) => f.path === 'b.bin')!;
    const victim = listed!.chunkIds![b.range!.startChunk + 1]!;
    fs.rmSync(path.join(storage, 'chunks', victim.slice(0, 2), victim.slice(2)));
    const r = await check({ repoDir: repo.dir, fromCache: true }); // the cached list still has it
    expect(r.ok).toBe(false);
    expect(r.findings).toEqual([
      expect.objectContaining({ kind: 'chunk', severity: 'error', problem: 'missing', chunkId: victim, revisions: [{ snapshotId: 'docs', revision: 1 }], files: [{ snapshotId: 'docs', revision: 1, paths: ['b.bin'], metadata: false }] }),
    ]);
  });
});
