import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/commands/check.js';
import { list } from '../../src/commands/list.js';
import { makeClient, randomFiles } from '../support/repos.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

describe('check', () => {
  it('passes on a sound storage, from a fresh listing and from the cache', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const repo = await makeClient(root, 'docs', storage);
    const rnd = seededRandom(1);
    randomFiles(repo, rnd, 5);
    await repo.backup();
    randomFiles(repo, rnd, 2);
    await repo.backup();
    const fresh = await check({ repoDir: repo.dir });
    expect(fresh.ok).toBe(true);
    expect(fresh.listing.source).toBe('storage');
    expect(fresh.revisions).toEqual([
      { snapshotId: 'docs', revision: 1 },
      { snapshotId: 'docs', revision: 2 },
    ]);
    expect(fresh.referencedChunks).toBeGreaterThan(10);
    const warm = await check({ repoDir: repo.dir, fromCache: true });
    expect(warm.listing.source).toBe('cache');
    expect(warm.referencedChunks).toBe(fresh.referencedChunks);
  });

  it('reports a missing chunk with its revisions and files, even from a stale cached list', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const repo = await makeClient(root, 'docs', storage);
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
      expect.objectContaining({
        kind: 'chunk',
        severity: 'error',
        problem: 'missing',
        chunkId: victim,
        revisions: [{ snapshotId: 'docs', revision: 1 }],
        files: [{ snapshotId: 'docs', revision: 1, paths: ['b.bin'], metadata: false }],
      }),
    ]);
  });
});

describe('check selections', () => {
  it('checks chosen revisions and ids; an empty selection is fine, an unknown revision or tag is not', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const docs = await makeClient(root, 'docs', storage);
    const mail = await makeClient(root, 'mail', storage);
    const rnd = seededRandom(4);
    expect(await check({ repoDir: docs.dir, all: true })).toMatchObject({ ok: true, revisions: [], referencedChunks: 0 });
    randomFiles(docs, rnd, 2);
    await docs.backup('weekly');
    randomFiles(docs, rnd, 2);
    await docs.backup();
    randomFiles(mail, rnd, 2);
    await mail.backup();
    expect((await check({ repoDir: docs.dir, revisions: [2] })).revisions).toEqual([{ snapshotId: 'docs', revision: 2 }]);
    expect((await check({ repoDir: docs.dir, tag: 'weekly' })).revisions).toEqual([{ snapshotId: 'docs', revision: 1 }]);
    expect((await check({ repoDir: docs.dir, snapshotId: 'mail' })).revisions).toEqual([{ snapshotId: 'mail', revision: 1 }]);
    expect((await check({ repoDir: docs.dir, all: true })).revisions).toHaveLength(3);
    await expect(check({ repoDir: docs.dir, revisions: [7] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(check({ repoDir: docs.dir, tag: 'never' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('-stats counts chunks, unique and new chunks per revision, and chunks no other id shares', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const docs = await makeClient(root, 'docs', storage);
    const mail = await makeClient(root, 'mail', storage);
    const rnd = seededRandom(6);
    const shared = rnd.bytes(20_000); // first in both streams, so both cut it the same way
    docs.write('0-shared.bin', shared);
    mail.write('0-shared.bin', shared);
    docs.write('a.bin', rnd.bytes(5000));
    await docs.backup();
    await mail.backup();
    docs.write('b.bin', rnd.bytes(5000));
    await docs.backup();
    const r = await check({ repoDir: docs.dir, stats: true });
    const d = r.stats!.find((s) => s.snapshotId === 'docs')!;
    const [r1, r2] = d.revisions;
    expect(r1!.newChunks).toBe(r1!.chunks); // everything is new in the first revision
    expect(r2!.newChunks).toBeGreaterThan(0);
    expect(r2!.chunks).toBe(r1!.chunks - r1!.uniqueChunks + r2!.newChunks); // only new or shared with revision 1
    expect(d.all.chunks).toBe(r1!.chunks + r2!.newChunks);
    expect(d.all.uniqueChunks).toBeLessThan(d.all.chunks - 5); // 0-shared.bin's data chunks are mail's too
    expect(r2!.files).toBe(3);
    expect(r2!.bytes).toBeGreaterThan(0);
  });

  it('-chunks verifies each chunk once and remembers it; a damaged chunk is reported', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const docs = await makeClient(root, 'docs', storage);
    const rnd = seededRandom(7);
    randomFiles(docs, rnd, 3);
    await docs.backup();
    const first = await check({ repoDir: docs.dir, chunks: true });
    expect(first.ok).toBe(true);
    expect(first.chunks!.verified).toBe(first.referencedChunks);
    randomFiles(docs, rnd, 1);
    await docs.backup();
    const second = await check({ repoDir: docs.dir, chunks: true });
    expect(second.chunks!.alreadyVerified).toBe(first.referencedChunks - (first.referencedChunks + second.chunks!.verified - second.referencedChunks));
    expect(second.chunks!.verified + second.chunks!.alreadyVerified).toBe(second.referencedChunks);
    // damage a chunk nobody verified yet: -chunks finds it, -files names the file
    randomFiles(docs, rnd, 1);
    const r3 = await docs.backup();
    const [latest] = await list({ repoDir: docs.dir, revisions: [r3.revision!], chunks: true });
    const victim = latest!.chunkIds!.at(-1)!;
    const file = path.join(storage, 'chunks', victim.slice(0, 2), victim.slice(2));
    const data = fs.readFileSync(file);
    data[data.length - 1]! ^= 0xff;
    fs.writeFileSync(file, data);
    const third = await check({ repoDir: docs.dir, chunks: true, files: true, persist: true });
    expect(third.ok).toBe(false);
    expect(third.findings).toContainEqual(expect.objectContaining({ kind: 'chunk', problem: 'corrupt', chunkId: victim }));
    expect(third.findings.some((f) => f.kind === 'file' && f.revision === r3.revision)).toBe(true);
  });
});
