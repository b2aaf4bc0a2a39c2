// The backend conformance suite: one set of tests that every storage backend passes unchanged,
// written against the contract in backends/backend.ts and nothing else. A backend's test file
// calls describeBackendConformance() with a setup that opens a fresh, empty storage; whatever
// only the backend itself can arrange (a crashed upload, a dropped connection, a storage that
// refuses changes) comes in through that setup's hooks.

import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, Entry } from '../../backends/backend.js';
import { collectTree, listTree } from '../../backends/list-tree.js';
import { withRetry } from '../../backends/retry.js';
import { isTempName, tempName } from '../../backends/temp-names.js';
import { DbkError, type ErrorCode } from '../../src/errors.js';

/** One fresh storage for one test. */
export interface ConformanceStorage {
  /** the backend under test, on an empty storage */
  backend: Backend;
  /**
   * Puts bytes at `path` directly on the storage, past the backend, the way a crashed upload or
   * another program leaves them. The suite uses it to leave half-written temporary files behind.
   */
  putRaw(path: string, data: Uint8Array): Promise<void>;
  /**
   * Makes the backend's next operation fail in a way that a retry cures (drops its connection).
   * Absent when the backend has nothing that can fail like that; the test is then skipped.
   */
  interrupt?(): Promise<void>;
  /**
   * Opens the same storage through a path that refuses every change (permission denied).
   * Absent when the backend cannot be made to; the test is then skipped.
   */
  openReadOnly?(): Promise<Backend>;
  /** Releases what setup made; called after backend.close(). */
  dispose?(): Promise<void>;
}

export interface ConformanceOptions {
  /** per-test timeout in ms (default 30 s); remote backends may need more */
  timeout?: number;
}

const MiB = 1024 * 1024;

export function describeBackendConformance(name: string, setup: () => Promise<ConformanceStorage>, options: ConformanceOptions = {}): void {
  describe(`backend conformance: ${name}`, () => {
    let storage: ConformanceStorage;
    let b: Backend;
    const test = (title: string, fn: (ctx: { skip: (note?: string) => never }) => Promise<void>) => it(title, fn, options.timeout ?? 30_000);

    beforeEach(async () => {
      storage = await setup();
      b = storage.backend;
    });
    afterEach(async () => {
      await b.close();
      await storage.dispose?.();
    });

    test('lists a missing folder and an empty folder as empty', async () => {
      expect(await b.list('missing')).toEqual([]);
      expect(await b.list('missing/deeper')).toEqual([]);
      await b.mkdir('empty');
      expect(await b.list('empty')).toEqual([]);
      expect(await b.list('')).toEqual([{ name: 'empty', size: 0, dir: true }]);
    });

    test('writes and reads back bytes exactly, empty files included', async () => {
      const data = randomBytes(100_000);
      await b.write('a', new Uint8Array(0));
      await b.write('b/c', data);
      expect((await b.read('a')).length).toBe(0);
      expect((await b.read('b/c')).equals(data)).toBe(true);
      expect(sorted(await b.list(''))).toEqual([
        { name: 'a', size: 0, dir: false },
        { name: 'b', size: 0, dir: true },
      ]);
    });

    test('lists a folder of 10,000 entries exactly, names and sizes', async () => {
      const expected: Entry[] = [];
      for (let i = 0; i < 10_000; i++) expected.push({ name: `f${String(i).padStart(5, '0')}`, size: i % 101, dir: false });
      // put in place past the backend: this test is about listing, and 10,000 writes are slow on remote storage
      const limit = pLimit(32);
      await Promise.all(expected.map((e) => limit(() => storage.putRaw(`big/${e.name}`, randomBytes(e.size)))));
      await b.write('big/last', randomBytes(7)); // and one through the backend
      expected.push({ name: 'last', size: 7, dir: false });
      expect(sorted(await b.list('big'))).toEqual(expected);
    });

    test('lists chunks/ recursively across all 256 prefix folders, skipping temporary files', async () => {
      const expected: Entry[] = [];
      for (let p = 0; p < 256; p++) {
        const prefix = p.toString(16).padStart(2, '0');
        for (let k = 0; k < 2; k++) expected.push({ name: `${prefix}/${randomBytes(31).toString('hex')}`, size: 1 + ((p + k) % 50), dir: false });
      }
      const limit = pLimit(32);
      await Promise.all(expected.map((e) => limit(() => b.write(`chunks/${e.name}`, randomBytes(e.size)))));
      await storage.putRaw(`chunks/7f/${tempName('7f00', 'crashed')}`, randomBytes(10));
      await storage.putRaw(`chunks/${tempName('x', 'crashed')}`, randomBytes(10));
      const found: Entry[] = [];
      let pages = 0;
      let settled = false;
      let late = 0;
      let paths = 0; // files handed on with a path, not a name within their folder
      await listTree(b, 'chunks', { threads: 8 }, (folder, files) => {
        if (settled) late++;
        pages++;
        for (const f of files) {
          if (f.name.includes('/')) paths++;
          found.push({ ...f, name: folder === '' ? f.name : `${folder}/${f.name}` });
        }
      });
      settled = true;
      await new Promise((r) => setTimeout(r, 20));
      expect(late).toBe(0);
      expect(paths).toBe(0);
      expect(sorted(found)).toEqual(sorted(expected)); // each file handed on once
      expect(pages).toBeGreaterThan(1); // a page or a folder at a time, not the whole tree at the end
      expect(await collectTree(b, 'missing', { threads: 8 })).toEqual([]);
    });

    test('a write is invisible until complete', async () => {
      const data = randomBytes(16 * MiB);
      let done = false;
      const writing = b.write('snapshots/x/1', data).finally(() => (done = true));
      const seen: string[] = [];
      while (!done) {
        const [entries, st] = await Promise.all([b.list('snapshots/x'), b.stat('snapshots/x/1')]);
        for (const e of entries) seen.push(`${e.name}:${e.size}`);
        if (st) seen.push(`stat:${st.size}`);
      }
      await writing;
      // every observation saw the whole file or nothing, and never a temporary name
      expect(seen.filter((s) => s !== '1:16777216' && s !== 'stat:16777216')).toEqual([]);
      expect(await b.list('snapshots/x')).toEqual([{ name: '1', size: data.length, dir: false }]);
      expect((await b.read('snapshots/x/1')).equals(data)).toBe(true);
    });

    test('a crashed upload leaves at most a temporary file, which listing skips', async () => {
      const data = randomBytes(5000);
      await storage.putRaw(`dir/${tempName('f', 'crashed')}`, data.subarray(0, 1000));
      expect(await b.list('dir')).toEqual([]);
      expect(await b.stat('dir/f')).toBeUndefined();
      await expectError(b.read('dir/f'), 'NOT_FOUND');
      await b.write('dir/f', data);
      expect(await b.list('dir')).toEqual([{ name: 'f', size: 5000, dir: false }]);
      expect((await b.read('dir/f')).equals(data)).toBe(true);
    });

    test('a write onto an existing name fails with ALREADY_EXISTS and keeps the old bytes', async () => {
      const old = randomBytes(300);
      await b.write('d/f', old);
      await expectError(b.write('d/f', randomBytes(500)), 'ALREADY_EXISTS');
      expect((await b.read('d/f')).equals(old)).toBe(true);
      expect(await b.list('d')).toEqual([{ name: 'f', size: 300, dir: false }]);
    });

    test('rename moves a file, creating missing folders', async () => {
      const data = randomBytes(1234);
      await b.write('a/f', data);
      await b.rename('a/f', 'x/y/g');
      expect(await b.stat('a/f')).toBeUndefined();
      expect((await b.read('x/y/g')).equals(data)).toBe(true);
    });

    test('rename onto an existing name fails with ALREADY_EXISTS and changes nothing', async () => {
      const [one, two] = [randomBytes(100), randomBytes(200)];
      await b.write('r/one', one);
      await b.write('r/two', two);
      await expectError(b.rename('r/one', 'r/two'), 'ALREADY_EXISTS');
      expect((await b.read('r/one')).equals(one)).toBe(true);
      expect((await b.read('r/two')).equals(two)).toBe(true);
      expect(sorted(await b.list('r'))).toEqual([
        { name: 'one', size: 100, dir: false },
        { name: 'two', size: 200, dir: false },
      ]);
      await expectError(b.rename('r/missing', 'r/three'), 'NOT_FOUND');
      expect(await b.stat('r/three')).toBeUndefined();
    });

    test('copy, where offered, makes a second name and leaves the first; never overwrites', async ({ skip }) => {
      if (!b.copy) return skip(`${name} renames in one step and offers no copy`);
      const [one, two] = [randomBytes(100), randomBytes(200)];
      await b.write('c/one', one);
      await b.write('c/two', two);
      await b.copy('c/one', 'c/deeper/copy');
      expect((await b.read('c/deeper/copy')).equals(one)).toBe(true);
      expect((await b.read('c/one')).equals(one)).toBe(true);
      await expectError(b.copy('c/one', 'c/two'), 'ALREADY_EXISTS');
      expect((await b.read('c/two')).equals(two)).toBe(true);
      await expectError(b.copy('c/missing', 'c/three'), 'NOT_FOUND');
      expect(await b.stat('c/three')).toBeUndefined();
    });

    test('delete removes a file; deleting a missing file is a no-op', async () => {
      await b.write('d/f', randomBytes(10));
      await b.write('d/g', randomBytes(10));
      await b.delete('d/f');
      expect(await b.list('d')).toEqual([{ name: 'g', size: 10, dir: false }]);
      await b.delete('d/f');
      await b.delete('missing/f');
      expect(await b.list('d')).toEqual([{ name: 'g', size: 10, dir: false }]);
    });

    test('stat reports files, folders and missing paths', async () => {
      await b.write('s/file', randomBytes(77));
      await b.mkdir('s/folder/inner');
      expect(await b.stat('s/file')).toEqual({ name: 'file', size: 77, dir: false });
      expect(await b.stat('s/folder')).toEqual({ name: 'folder', size: 0, dir: true });
      expect(await b.stat('s/folder/inner')).toEqual({ name: 'inner', size: 0, dir: true });
      expect(await b.stat('s/missing')).toBeUndefined();
      expect(await b.stat('missing/deeper')).toBeUndefined();
      expect(await b.stat('s/file/below')).toBeUndefined();
      await b.mkdir('s/folder'); // an existing folder is fine
      expect(await b.list('s/folder')).toEqual([{ name: 'inner', size: 0, dir: true }]);
    });

    test('32 concurrent operations', async () => {
      const files = Array.from({ length: 32 }, (_, i) => ({ path: `c/${i % 4}/f${i}`, data: randomBytes(1000 * i + 1) }));
      await Promise.all(files.map((f) => b.write(f.path, f.data)));
      const read = await Promise.all(files.map((f) => b.read(f.path)));
      for (const [i, data] of read.entries()) expect(data.equals(files[i]!.data)).toBe(true);
      await Promise.all(files.map((f, i) => (i % 4 === 0 ? b.rename(f.path, `${f.path}.moved`) : i % 4 === 1 ? b.delete(f.path) : i % 4 === 2 ? b.stat(f.path) : b.list('c/3'))));
      const left = await collectTree(b, 'c', { threads: 8 });
      expect(sorted(left).map((e) => e.name)).toEqual(
        files
          .map((f, i) => (i % 4 === 0 ? `${f.path}.moved` : i % 4 === 1 ? undefined : f.path))
          .filter((p): p is string => p !== undefined)
          .map((p) => p.slice(2))
          .sort(),
      );

      // 32 writers racing for one name: exactly one wins, the others see ALREADY_EXISTS
      const contenders = Array.from({ length: 32 }, () => randomBytes(20_000));
      const results = await Promise.allSettled(contenders.map((data) => b.write('race/f', data)));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expectErrorCode(r.reason, 'ALREADY_EXISTS');
      expect((await b.read('race/f')).equals(contenders[winners[0]!]!)).toBe(true);
      expect(await b.list('race')).toEqual([{ name: 'f', size: 20_000, dir: false }]);
    });

    test('a file of 64 MiB, byte for byte', async () => {
      const data = randomBytes(64 * MiB);
      await b.write('large/file', data);
      expect(await b.stat('large/file')).toEqual({ name: 'file', size: data.length, dir: false });
      expect((await b.read('large/file')).equals(data)).toBe(true);
    });

    test('names with spaces and unicode', async () => {
      const dir = 'folder with space/ünïcödé 名前';
      const name = 'naïve file — 文件 🙂.txt';
      const data = randomBytes(321);
      await b.write(`${dir}/${name}`, data);
      expect(await b.list('')).toEqual([{ name: 'folder with space', size: 0, dir: true }]);
      expect(await b.list('folder with space')).toEqual([{ name: 'ünïcödé 名前', size: 0, dir: true }]);
      expect(await b.list(dir)).toEqual([{ name, size: 321, dir: false }]);
      expect(await b.stat(`${dir}/${name}`)).toEqual({ name, size: 321, dir: false });
      await b.rename(`${dir}/${name}`, `${dir}/другое имя.bin`);
      expect((await b.read(`${dir}/другое имя.bin`)).equals(data)).toBe(true);
      await b.delete(`${dir}/другое имя.bin`);
      expect(await b.list(dir)).toEqual([]);
    });

    test('errors are typed: not found, already exists', async () => {
      await expectError(b.read('missing'), 'NOT_FOUND');
      await expectError(b.read('missing/deeper'), 'NOT_FOUND');
      await expectError(b.rename('missing', 'other'), 'NOT_FOUND');
      await b.write('f', randomBytes(1));
      await b.write('g', randomBytes(1));
      await expectError(b.write('f', randomBytes(1)), 'ALREADY_EXISTS');
      await expectError(b.rename('f', 'g'), 'ALREADY_EXISTS');
    });

    test('a dropped connection is TRANSIENT, and retrying recovers', async ({ skip }) => {
      const interrupt = storage.interrupt?.bind(storage);
      if (!interrupt) return skip(`${name} has no connection that can drop`);
      const data = randomBytes(200_000);
      await b.write('keep', data);
      await interrupt();
      // without retries: the call succeeds (the backend reconnected) or fails TRANSIENT
      await b.read('keep').then(
        (got) => expect(got.equals(data)).toBe(true),
        (e: unknown) => expectErrorCode(e, 'TRANSIENT'),
      );
      const retried = withRetry(b, { baseDelayMs: 20, maxDelayMs: 500 });
      await interrupt();
      await retried.write('new', data);
      await interrupt();
      expect((await retried.read('new')).equals(data)).toBe(true);
      expect(sorted(await retried.list(''))).toEqual([
        { name: 'keep', size: data.length, dir: false },
        { name: 'new', size: data.length, dir: false },
      ]);
    });

    test('a storage that refuses changes fails PERMANENT at once and loses nothing', async ({ skip }) => {
      const openReadOnly = storage.openReadOnly?.bind(storage);
      if (!openReadOnly) return skip(`${name} cannot be made to refuse changes`);
      const data = randomBytes(1000);
      await b.write('d/keep', data);
      const ro = await openReadOnly();
      try {
        let attempts = 0;
        const counted = withRetry(
          {
            ...ro,
            write: (p, d) => {
              attempts++;
              return ro.write(p, d);
            },
          },
          { baseDelayMs: 1 },
        );
        const e = await counted.write('d/new', randomBytes(10)).catch((err: unknown) => err);
        expectErrorCode(e, 'PERMANENT');
        expect(attempts).toBe(1); // not retried
        expect((e as DbkError).hint).toMatch(/\w/);
        await expectError(ro.delete('d/keep'), 'PERMANENT');
        await expectError(ro.rename('d/keep', 'd/moved'), 'PERMANENT');
        expect((await ro.read('d/keep')).equals(data)).toBe(true);
      } finally {
        await ro.close();
      }
      expect(await b.list('d')).toEqual([{ name: 'keep', size: 1000, dir: false }]);
    });
  });
}

function sorted(entries: Entry[]): Entry[] {
  for (const e of entries) if (isTempName(e.name.slice(e.name.lastIndexOf('/') + 1))) throw new Error(`listed a temporary file: ${e.name}`);
  return [...entries].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

function expectErrorCode(e: unknown, code: ErrorCode): void {
  expect(e).toBeInstanceOf(DbkError);
  expect((e as DbkError).code).toBe(code);
  expect((e as DbkError).temporary).toBe(code === 'TRANSIENT');
}

async function expectError(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e === undefined) throw new Error(`expected ${code}, but the call succeeded`);
  expectErrorCode(e, code);
}
