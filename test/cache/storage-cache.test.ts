import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CACHE_FILE, CACHE_SCHEMA_VERSION } from '../../cache/cache-db.js';
import { ABSENT, ChunkListing } from '../../cache/chunk-list-cache.js';
import { applyChange, type IntSet } from '../../cache/int-sets.js';
import { StorageCache } from '../../cache/storage-cache.js';
import type { Logger } from '../../src/log.js';
import { tempDir } from '../support/tmp.js';
import { chunkIdsOf } from './fixtures/cache-writer.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, debug() {}, warn: (m) => warnings.push(m) };
}

describe('StorageCache', () => {
  it('keeps the chunk list with its listing time and applied prune records', () => {
    const dir = tempDir();
    const cache = StorageCache.open({ dir, log: recordingLogger() });
    expect(cache.loadListing()).toBeUndefined();
    cache.dictionary().intern(randomBytes(10 * 32)); // numbers 0-9 name chunk ids
    const listing = ChunkListing.empty(1234, 4);
    listing.setChunk(0, 10);
    listing.setChunk(2, 0); // a zero-size chunk is a chunk
    listing.setChunk(9, 99); // beyond the initial room
    listing.setFossil(3, 33);
    cache.saveListing(listing, ['r1', 'r2']);
    cache.close();

    const again = StorageCache.open({ dir, log: recordingLogger() });
    const back = again.loadListing()!;
    expect(back.listedAt).toBe(1234);
    expect([0, 1, 2, 3, 9, 50].map((n) => back.chunkSize(n))).toEqual([10, undefined, 0, undefined, 99, undefined]);
    expect(back.fossilSize(3)).toBe(33);
    expect(back.numbers('chunks')).toEqual([0, 2, 9]);
    expect(back.numbers('fossils')).toEqual([3]);
    expect(back.chunkSizes[1]).toBe(ABSENT);
    expect([...again.appliedRecords('chunks')].sort()).toEqual(['r1', 'r2']);
    expect(again.appliedRecords('revisions').size).toBe(0);
    again.close();
  });

  it('remembers verified chunks', () => {
    const cache = StorageCache.open({ dir: tempDir(), log: recordingLogger() });
    cache.markVerified([3, 5, 3]);
    expect(Array.from(cache.verified())).toEqual([0, 0, 0, 1, 0, 1]);
    cache.close();
  });

  it('a damaged cache file is rebuilt, with a notice', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, CACHE_FILE), Buffer.alloc(8192, 0x5a));
    const log = recordingLogger();
    const cache = StorageCache.open({ dir, log });
    expect(log.warnings.join()).toMatch(/damaged.*rebuilt/);
    cache.markVerified([1]);
    expect(cache.verified()[1]).toBe(1);
    cache.close();
  });

  it('a cache of another format version is rebuilt, with a notice', () => {
    const dir = tempDir();
    const first = StorageCache.open({ dir, log: recordingLogger() });
    first.markVerified([1]);
    first.close();
    const raw = new Database(path.join(dir, CACHE_FILE));
    raw.prepare(`UPDATE meta SET value = ? WHERE key = 'schema'`).run(String(CACHE_SCHEMA_VERSION + 1));
    raw.close();
    const log = recordingLogger();
    const cache = StorageCache.open({ dir, log });
    expect(log.warnings.join()).toMatch(/has format .*rebuilt/);
    expect(cache.verified().length).toBe(0);
    cache.close();
  });

  it('reset empties a cache whose contents failed to decode', () => {
    const log = recordingLogger();
    const cache = StorageCache.open({ dir: tempDir(), log });
    cache.dictionary().intern(Buffer.alloc(32, 7));
    cache.markVerified([0]);
    cache.reset('test');
    expect(log.warnings.join()).toMatch(/damaged \(test\)/);
    expect(cache.dictionary().size).toBe(0);
    expect(cache.verified().length).toBe(0);
    cache.close();
  });

  it('two processes writing one cache at once leave it whole and consistent', async () => {
    const dir = tempDir();
    const odd = Array.from({ length: 30 }, (_, i) => 2 * i + 1);
    const even = Array.from({ length: 30 }, (_, i) => 60 - 2 * i); // descending: inserts land in the middle
    const [a, b] = await Promise.all([runWriter(dir, odd), runWriter(dir, even)]);
    expect(a.started < b.finished && b.started < a.finished).toBe(true); // they did overlap

    const cache = StorageCache.open({ dir, log: recordingLogger() });
    const dict = cache.dictionary();
    const chain = cache.revisions.chains().get('shared')!;
    expect(chain.map((l) => l.revision)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    let set: IntSet = new Int32Array(0);
    for (const link of chain) {
      set = applyChange(set, link.change);
      const ids = new Set(Array.from(set, (n) => dict.hexAt(n)));
      const expected = new Set(chunkIdsOf(link.revision).toString('hex').match(/.{64}/g));
      expect(ids).toEqual(expected);
    }
    // no id got two numbers: every distinct id appears once
    const distinct = new Set(Array.from({ length: dict.size }, (_, n) => dict.hexAt(n)));
    expect(distinct.size).toBe(dict.size);
    expect(dict.size).toBe(30 * 10 + 3000);
    expect(cache.verified().reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    cache.close();
  }, 120_000);
});

function runWriter(dir: string, revisions: number[]): Promise<{ started: number; finished: number }> {
  const script = path.join(import.meta.dirname, 'fixtures', 'cache-writer.ts');
  const bin = path.join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'vite-node');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [script, '--', dir, ...revisions.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`writer exited ${code}: ${stderr}`))));
  });
}
