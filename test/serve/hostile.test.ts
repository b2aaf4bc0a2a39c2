// dbk serve with names and clients that make trouble: a name whose bytes are not UTF-8 (browsed,
// downloaded, listed and read over WebDAV byte for byte), a name with a control character (well
// formed XML), empty files and odd Range headers, a download abandoned half-way and a chunk that
// fails its check during a .tar (the server lives on), a restore with malformed paths, and two
// builds of one browse index at once.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../src/browse/file-content.js';
import { RevisionIndex } from '../../src/browse/revision-index.js';
import { backup } from '../../src/commands/backup.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { Repository } from '../../src/storage/repository.js';
import { chunkFiles, makeRepo, put, seededBytes, type TestRepo } from '../support/engine.js';

let repo: TestRepo;
let server: RunningServer;
let base: string;
let auth: Record<string, string>;
const latin1Name = Buffer.from('caf\xe9.txt', 'latin1'); // é as one byte: not UTF-8
const big = seededBytes(3_000_000, 'big');

beforeAll(async () => {
  repo = await makeRepo({ chunkSize: 64 * 1024, minChunkSize: 16 * 1024, maxChunkSize: 256 * 1024 });
  fs.mkdirSync(path.join(repo.repoDir, 'odd'));
  fs.writeFileSync(Buffer.concat([Buffer.from(path.join(repo.repoDir, 'odd/')), latin1Name]), 'bytes, not UTF-8\n');
  put(repo.repoDir, 'odd/ctl\x01name.txt', 'control\n');
  put(repo.repoDir, 'odd/empty', '');
  put(repo.repoDir, 'heavy/big.bin', big);
  await backup(repo.open);
  server = await startServer({ ...repo.open, listen: '127.0.0.1:0' });
  base = server.baseUrl.replace(/\/$/, '');
  auth = { authorization: `Bearer ${server.token}` };
});

afterAll(async () => {
  await server?.close();
});

const get = (p: string, headers: Record<string, string> = {}) => fetch(`${base}${p}`, { headers: { ...auth, ...headers } });

describe('names that are not text', () => {
  it('lists, downloads and serves over WebDAV a name whose bytes are not UTF-8', async () => {
    const tree = (await (await get('/api/tree?r=1&path=odd')).json()) as { entries: { name: string; path: string }[] };
    const odd = tree.entries.find((e) => e.name.startsWith('caf'))!;
    expect(odd.name).toBe('caf\udce9.txt'); // the byte as dbk keeps it (format/names.ts)
    const file = await get('/api/file?r=1&path=odd/caf%E9.txt');
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('bytes, not UTF-8\n');
    expect(file.headers.get('content-disposition')).toContain("filename*=UTF-8''caf%E9.txt");
    const listing = await (await fetch(`${base}/dav/default/test/1/odd/`, { method: 'PROPFIND', headers: { ...auth, depth: '1' } })).text();
    expect(listing).toContain('<D:href>/dav/default/test/1/odd/caf%E9.txt</D:href>');
    expect(await (await get('/dav/default/test/1/odd/caf%E9.txt')).text()).toBe('bytes, not UTF-8\n');
  });

  it('keeps PROPFIND well-formed XML when a name holds a control character', async () => {
    const listing = await (await fetch(`${base}/dav/default/test/1/odd/`, { method: 'PROPFIND', headers: { ...auth, depth: '1' } })).text();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be there
    expect(listing).not.toMatch(/[\x00-\x08\x0B\x0C\x0E-\x1F]/);
    expect(listing).toContain('<D:href>/dav/default/test/1/odd/ctl%01name.txt</D:href>');
    expect(await (await get('/dav/default/test/1/odd/ctl%01name.txt')).text()).toBe('control\n');
  });
});

describe('odd requests', () => {
  it('sends an empty file whole whatever the Range, and ignores a range that ends before it starts', async () => {
    for (const range of ['bytes=0-', 'bytes=-5']) {
      const res = await get('/dav/default/test/1/odd/empty', { range });
      expect(res.status, range).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
    const reversed = await get('/dav/default/test/1/heavy/big.bin', { range: 'bytes=5-3' });
    expect(reversed.status).toBe(200);
    expect(Buffer.from(await reversed.arrayBuffer()).equals(big)).toBe(true);
    expect((await get('/dav/default/test/1/heavy/big.bin', { range: `bytes=${big.length}-` })).status).toBe(416);
    expect((await fetch(`${base}/dav/default/test/1/heavy/`, { method: 'HEAD', headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/dav/default/test/1/nothing/`, { method: 'HEAD', headers: auth })).status).toBe(404);
  });

  it('lives on when a .tar download is abandoned half-way', async () => {
    const url = new URL(`${base}/api/tar?r=1&path=heavy`);
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: auth }, (res) => {
        res.once('data', () => {
          req.destroy(); // the client leaves after the first bytes
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no data')), 20_000).unref();
    });
    await new Promise((r) => setTimeout(r, 200));
    const again = await get('/api/tar?r=1&path=odd');
    expect(again.status).toBe(200);
    expect((await again.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('refuses a restore whose paths are not a list of paths, before anything is restored', async () => {
    const { csrf } = (await (await get('/api/session')).json()) as { csrf: string };
    for (const paths of ['odd', [1], { a: 1 }]) {
      const res = await fetch(`${base}/api/jobs`, {
        method: 'POST',
        headers: { ...auth, 'x-dbk-csrf': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'restore', revision: 1, paths, target: 'r' }),
      });
      expect(res.status, JSON.stringify(paths)).toBe(400);
    }
    expect(fs.existsSync(path.join(repo.repoDir, 'r'))).toBe(false);
  });
});

describe('the browse engine under load', () => {
  it('builds one index once when two ask for it at the same time', async () => {
    const storage = await Repository.open(repo.open);
    try {
      const r = await storage.loadRevision('test', 1);
      fs.rmSync(path.join(storage.cacheDir, 'browse'), { recursive: true, force: true });
      const [a, b] = await Promise.all([RevisionIndex.open(storage, r), RevisionIndex.open(storage, r)]);
      expect(a.children('odd').total).toBe(3);
      expect(b.children('odd').total).toBe(3);
      a.close();
      b.close();
      expect(fs.readdirSync(path.join(storage.cacheDir, 'browse'))).toEqual(['test.1.sqlite']);
    } finally {
      await storage.close();
    }
  });

  it('keeps the chunk cache within its bytes however reads interleave', async () => {
    const pending = new Map<string, (b: Buffer) => void>();
    const fake = { cacheDir: '/x', readChunk: (h: string) => new Promise<Buffer>((resolve) => pending.set(h, resolve)) } as unknown as Repository;
    const cache = new ChunkCache(100);
    const hashes = ['a', 'b', 'c', 'd', 'e'] as never[];
    const reads = hashes.map((h) => cache.get(fake, h));
    for (const h of hashes) pending.get(h)!(Buffer.alloc(90));
    await Promise.all(reads);
    await new Promise((r) => setImmediate(r));
    const held = (cache as unknown as { lengths: Map<string, number> }).lengths;
    expect([...held.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
    expect((cache as unknown as { bytes: number }).bytes).toBe([...held.values()].reduce((a, b) => a + b, 0));
  });

  it('cuts a .tar short when a chunk is missing, and lives on', async () => {
    // the largest chunks are big.bin's
    const largest = chunkFiles(repo.storageDir).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    for (const f of largest.slice(0, 3)) fs.rmSync(f);
    const fresh = await startServer({ ...repo.open, listen: '127.0.0.1:0' }); // its chunk cache is empty
    try {
      const res = await fetch(`${fresh.baseUrl}api/tar?r=1&path=heavy`, { headers: { authorization: `Bearer ${fresh.token}` } });
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
      expect((await fetch(`${fresh.baseUrl}api/session`, { headers: { authorization: `Bearer ${fresh.token}` } })).status).toBe(200);
    } finally {
      await fresh.close();
    }
    expect((await get('/api/session')).status).toBe(200);
  });
});
