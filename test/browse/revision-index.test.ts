// The browse index of a revision (src/browse/revision-index.ts) and reading file ranges from
// chunks (src/browse/file-content.ts), against real backups: folders page in list order, a
// folder's subtree is exactly what lies inside it, a damaged or stale index file is built again,
// and any byte range of a file equals that slice of the source.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCache, RevisionContent } from '../../src/browse/file-content.js';
import { RevisionIndex } from '../../src/browse/revision-index.js';
import { backup } from '../../src/commands/backup.js';
import { restore } from '../../src/commands/restore.js';
import { Repository } from '../../src/storage/repository.js';
import { makeRepo, put, seededBytes, type TestRepo } from '../support/engine.js';

let repo: TestRepo;
let storage: Repository;
const big = seededBytes(400_000, 'big');
const FOLDER_SIZE = 2500;

beforeAll(async () => {
  repo = await makeRepo({ chunkSize: 16 * 1024, minChunkSize: 4096, maxChunkSize: 65536 });
  put(repo.repoDir, 'a/b/c/deep.txt', 'deep');
  put(repo.repoDir, 'a/big.bin', big);
  put(repo.repoDir, 'a b/ünï cödé #%?.txt', 'odd name');
  for (let i = 0; i < FOLDER_SIZE; i++) put(repo.repoDir, `wide/${String(i).padStart(5, '0')}`, `${i}`);
  put(repo.repoDir, 'z.txt', 'last');
  await backup(repo.open);
  storage = await Repository.open(repo.open);
});

afterAll(async () => {
  await storage?.close();
});

/** What a promise rejects with (a DbkError); fails when it resolves. */
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('expected an error'),
    (e: unknown) => e as { code: string; message: string },
  );

async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of pieces) out.push(piece);
  return Buffer.concat(out);
}

const openIndex = async () => RevisionIndex.open(storage, await storage.loadRevision('test', 1));

describe('the browse index', () => {
  it('lists a folder a page at a time in list order, and finds any entry', async () => {
    const index = await openIndex();
    try {
      expect(index.children('').entries.map((e) => e.name)).toEqual(['a', 'a b', 'wide', 'z.txt']);
      const page = index.children('wide', 1000, 3);
      expect(page.total).toBe(FOLDER_SIZE);
      expect(page.entries.map((e) => e.name)).toEqual(['01000', '01001', '01002']);
      expect(index.childrenAfter('wide', page.entries[1]!.pos, 2).map((e) => e.name)).toEqual(['01002', '01003']);
      expect(index.entry('a b/ünï cödé #%?.txt')?.size).toBe(8);
      expect(index.entry('a/big.bin')?.hash).toBeDefined();
      expect(index.entry('a/nothing')).toBeUndefined();
      expect(index.entry('')?.type).toBe('dir');
    } finally {
      index.close();
    }
  });

  it("gives exactly a folder's subtree, in walk order", async () => {
    const index = await openIndex();
    try {
      expect([...index.inside('a')].map((e) => e.path)).toEqual(['a/b', 'a/b/c', 'a/b/c/deep.txt', 'a/big.bin']);
      expect([...index.inside('wide')].length).toBe(FOLDER_SIZE);
      expect([...index.inside('')].length).toBe(index.entryCount);
      expect([...index.inside('z.txt')]).toEqual([]);
    } finally {
      index.close();
    }
  });

  it('builds a damaged index file again, and reuses a sound one', async () => {
    const file = path.join(storage.cacheDir, 'browse', 'test.1.sqlite');
    (await openIndex()).close();
    const built = fs.statSync(file).ino;
    (await openIndex()).close();
    expect(fs.statSync(file).ino).toBe(built);
    fs.writeFileSync(file, 'not a database');
    const index = await openIndex();
    try {
      expect(index.children('wide').total).toBe(FOLDER_SIZE);
    } finally {
      index.close();
    }
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes('partial'))).toEqual([]);
  });
});

describe('reading a file from its chunks', () => {
  it('gives any byte range of a file, and all of it checked against its hash', async () => {
    const r = await storage.loadRevision('test', 1);
    const index = await RevisionIndex.open(storage, r);
    const content = await RevisionContent.open(storage, r, new ChunkCache(1 << 20));
    try {
      const e = index.entry('a/big.bin')!;
      expect(e.range!.endChunk).toBeGreaterThan(e.range!.startChunk + 3);
      const read = async (start?: number, end?: number) => collect(content.read(e, start, end));
      expect((await read()).equals(big)).toBe(true);
      for (const [start, end] of [
        [0, 1],
        [big.length - 1, big.length],
        [65_000, 70_000],
        [12_345, 300_001],
        [5, 5],
      ] as const) {
        expect((await read(start, end)).equals(big.subarray(start, end)), `${start}-${end}`).toBe(true);
      }
      expect((await rejection(read(0, big.length + 1))).message).toMatch(/outside/);
    } finally {
      index.close();
    }
  });

  it('ends a whole read with an error when the content does not match its hash', async () => {
    const r = await storage.loadRevision('test', 1);
    const index = await RevisionIndex.open(storage, r);
    const content = await RevisionContent.open(storage, r, new ChunkCache());
    try {
      const e = { ...index.entry('a/big.bin')!, hash: Buffer.alloc(32) };
      expect((await rejection(collect(content.read(e)))).message).toMatch(/does not match its hash/);
    } finally {
      index.close();
    }
  });
});

describe('restore of chosen paths', () => {
  it('restores exact paths (glob characters taken literally) into a folder inside the repository', async () => {
    const r = await restore({ ...repo.open, revision: 1, paths: ['a b/ünï cödé #%?.txt', 'a/b', 'not/there'], into: 'back/here' });
    expect(r.warnings).toEqual(['not/there: not in revision 1, nothing restored for it']);
    const into = path.join(repo.repoDir, 'back/here');
    expect(fs.readFileSync(path.join(into, 'a b/ünï cödé #%?.txt'), 'utf8')).toBe('odd name');
    expect(fs.readFileSync(path.join(into, 'a/b/c/deep.txt'), 'utf8')).toBe('deep');
    expect(fs.existsSync(path.join(into, 'a/big.bin'))).toBe(false);
    expect(fs.existsSync(path.join(into, 'wide'))).toBe(false);
  });

  it('refuses a folder outside the repository, dbk own folder, and -delete with either', async () => {
    for (const into of ['../out', '/tmp/x', '.dbk', '.dbk/cache', 'a/../..']) expect((await rejection(restore({ ...repo.open, revision: 1, into }))).code, into).toBe('USAGE');
    expect((await rejection(restore({ ...repo.open, revision: 1, paths: ['z.txt'], delete: true }))).code).toBe('USAGE');
    expect((await rejection(restore({ ...repo.open, revision: 1, into: 'x', delete: true }))).code).toBe('USAGE');
  });
});
