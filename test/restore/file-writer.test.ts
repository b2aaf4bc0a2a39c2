// The restore's file writer thread: every byte placed in its ring lands in the right file however
// often the ring wraps; attributes are set; a file is created only where nothing is, replaced only
// through a temporary name, never written through a symlink; a failure reaches drain().

import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWriter, type PlacedFile, type Reserved, type RingSpan } from '../../src/restore/file-writer.js';
import { isUnfinishedRestore } from '../../src/tree/unfinished-file.js';
import { seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const RING = 1 << 20;
const placed = (target: string, over: Partial<PlacedFile> = {}): PlacedFile => ({
  target,
  viaTemp: false,
  replaceFolder: false,
  mode: 0o640,
  uid: process.getuid?.() ?? 0,
  gid: process.getgid?.() ?? 0,
  mtimeS: 1_600_000_000,
  mtimeNs: 123_000_000,
  ...over,
});

describe('FileWriter', () => {
  const root = tempDir();
  let writer: FileWriter;
  let n = 0;
  const fresh = () => {
    const dir = path.join(root, `t${n++}`);
    mkdirSync(dir);
    return dir;
  };
  afterEach(async () => writer?.close());

  /** Spans taken since the last job was pushed: given back after it, as a restore does. */
  let taken: Reserved[] = [];
  /** Puts bytes in the ring as a decoded chunk would be. */
  async function inRing(bytes: Uint8Array): Promise<RingSpan> {
    const r = await writer.reserve(bytes.length);
    new Uint8Array(writer.memory, r.offset, r.length).set(bytes);
    taken.push(r);
    return r;
  }
  /** Every job reading the spans taken so far is pushed. */
  function pushed<T>(result: T): T {
    for (const r of taken) writer.release(r);
    taken = [];
    return result;
  }

  it('writes whole files and streamed ones byte for byte while the ring wraps many times', async () => {
    const dir = fresh();
    writer = new FileWriter(RING);
    const expected = new Map<string, Buffer>();
    // sizes that do not divide the ring, and one that does: spans wrap at every offset
    const sizes = [0, 1, 4095, 65_537, RING / 4 - 3, RING / 4, 3 * RING + 17, 100_003];
    for (let round = 0; round < 4; round++) {
      for (const [i, size] of sizes.entries()) {
        const name = path.join(dir, `f${round}-${i}`);
        const data = Buffer.alloc(size, seededBytes(9973, name)); // a prime period: misplaced bytes show
        expected.set(name, data);
        if (size <= RING / 4) {
          const content = [await inRing(data.subarray(0, size >> 1)), await inRing(data.subarray(size >> 1))];
          pushed(writer.writeWhole(placed(name), content));
        } else {
          const id = writer.open(placed(name, { viaTemp: true }));
          for (let at = 0; at < size; at += 200_003) {
            const span = await inRing(data.subarray(at, at + 200_003));
            pushed(writer.append(id, span));
          }
          writer.finish(id, true);
        }
      }
    }
    await writer.drain();
    for (const [name, data] of expected) {
      expect(readFileSync(name).equals(data), name).toBe(true);
      const st = lstatSync(name);
      expect(st.mode & 0o7777).toBe(0o640);
      expect(Math.abs(st.mtimeMs - 1_600_000_000_123)).toBeLessThan(0.01);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('.dbk-restore-'))).toEqual([]);
  });

  // the mark is the sticky bit, which only Linux lets anyone set on a file
  it.skipIf(process.platform !== 'linux')('marks a file unfinished until all of it is written, then gives it its own mode', async () => {
    const dir = fresh();
    writer = new FileWriter(RING);
    const target = path.join(dir, 'streamed');
    const id = writer.open(placed(target));
    pushed(writer.append(id, await inRing(seededBytes(50_000, 'first part'))));
    await writer.drain();
    // a restore killed now leaves this: the next one sees it is unfinished (unfinished-file.ts)
    expect(isUnfinishedRestore(lstatSync(target))).toBe(true);
    expect(lstatSync(target).size).toBe(50_000);
    pushed(writer.append(id, await inRing(seededBytes(50_000, 'second part'))));
    writer.finish(id, true);
    await writer.drain();
    expect(isUnfinishedRestore(lstatSync(target))).toBe(false);
    expect(lstatSync(target).mode & 0o7777).toBe(0o640);
  });

  it('finish without commit leaves neither the file nor its temporary name', async () => {
    const dir = fresh();
    writer = new FileWriter(RING);
    const id = writer.open(placed(path.join(dir, 'big'), { viaTemp: true }));
    const span = await inRing(seededBytes(100_000, 'x'));
    pushed(writer.append(id, span));
    writer.finish(id, false);
    await writer.drain();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces an existing file only through a temporary name, and never writes through a symlink', async () => {
    const dir = fresh();
    const outside = path.join(fresh(), 'secret');
    writeFileSync(outside, 'keep');
    writeFileSync(path.join(dir, 'old'), 'old content');
    writer = new FileWriter(RING);
    pushed(writer.writeWhole(placed(path.join(dir, 'old'), { viaTemp: true }), [await inRing(Buffer.from('new'))]));
    await writer.drain();
    expect(readFileSync(path.join(dir, 'old'), 'utf8')).toBe('new');

    writer.symlink(path.join(dir, 'link'), outside, 1_600_000_000_000);
    await writer.drain();
    expect(readlinkSync(path.join(dir, 'link'))).toBe(outside);
    pushed(writer.writeWhole(placed(path.join(dir, 'link')), [await inRing(Buffer.from('through the link'))]));
    await expect(writer.drain()).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(outside, 'utf8')).toBe('keep');
  });

  it('close() completes the jobs posted to the thread and removes files left unfinished', async () => {
    const dir = fresh();
    writer = new FileWriter(4 * RING);
    const id = writer.open(placed(path.join(dir, 'streamed'), { viaTemp: true }));
    pushed(writer.append(id, await inRing(seededBytes(100_000, 'part'))));
    // over a megabyte of jobs: posted at once, with the two before it
    const whole = seededBytes(1_100_000, 'whole');
    pushed(writer.writeWhole(placed(path.join(dir, 'whole')), [await inRing(whole)]));
    await writer.close();
    expect(readdirSync(dir)).toEqual(['whole']);
    expect(readFileSync(path.join(dir, 'whole')).equals(whole)).toBe(true);
  });

  it("with several writer threads, sets each folder's times after all of its entries, whichever thread wrote them", async () => {
    const dir = fresh();
    writer = new FileWriter(RING, 3);
    const expected = new Map<string, Buffer>();
    const folderTime = (i: number) => ({ mode: 0o750, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeS: 1_500_000_000 + i, mtimeNs: 0 });
    async function file(name: string) {
      const data = seededBytes(100 + (expected.size % 300), name);
      expected.set(name, data);
      pushed(writer.writeWhole(placed(name), [await inRing(data)]));
    }
    // walk order: F/a…, F/G/b…, F/c, so the files of F go to one thread before G and another
    // after; the many before are still being written when the folder's attributes are handed over
    const folders: string[] = [];
    for (let i = 0; i < 20; i++) {
      const f = path.join(dir, `F${i}`);
      const g = path.join(f, 'G');
      mkdirSync(g, { recursive: true });
      for (let j = 0; j < 200; j++) await file(path.join(f, `a${j}`));
      for (let j = 0; j < 2; j++) await file(path.join(g, `b${j}`));
      await file(path.join(f, 'c'));
      writer.symlink(path.join(f, 'link'), 'a0', { uid: 0, gid: 0, mtimeS: 1_000_000_000, mtimeNs: 0 });
      writer.folderAttributes(g, folderTime(2 * i));
      writer.folderAttributes(f, folderTime(2 * i + 1));
      folders.push(g, f);
      await writer.room();
    }
    await writer.drain();
    for (const [name, data] of expected) expect(readFileSync(name).equals(data), name).toBe(true);
    for (const [i, folder] of folders.entries()) {
      expect(lstatSync(folder).mtimeMs, folder).toBe((1_500_000_000 + i) * 1000);
      expect(lstatSync(folder).mode & 0o777).toBe(0o750);
    }
  });

  // a new file takes a setgid folder's group, not the thread's: the writer chowns only where the two differ
  it.skipIf(process.getuid?.() !== 0)('gives a file its recorded owner, in a setgid folder too, and changes nothing where the owner is already right', async () => {
    const dir = fresh();
    const setgid = path.join(dir, 'setgid');
    mkdirSync(setgid);
    chownSync(setgid, 0, 4321);
    chmodSync(setgid, 0o2775);
    writer = new FileWriter(RING);
    const owners = [
      [path.join(setgid, 'root'), 0, 0],
      [path.join(setgid, 'group of the folder'), 0, 4321],
      [path.join(dir, 'root'), 0, 0],
      [path.join(dir, 'other'), 1234, 5678],
    ] as const;
    for (const [target, uid, gid] of owners) pushed(writer.writeWhole(placed(target, { uid, gid }), [await inRing(Buffer.from('x'))]));
    await writer.drain();
    for (const [target, uid, gid] of owners) expect([lstatSync(target).uid, lstatSync(target).gid], target).toEqual([uid, gid]);
  });

  it('close() with several writer threads removes what each left unfinished', async () => {
    const dir = fresh();
    writer = new FileWriter(RING, 2);
    for (const name of ['one', 'two']) {
      mkdirSync(path.join(dir, name));
      const id = writer.open(placed(path.join(dir, name, 'streamed'), { viaTemp: true }));
      pushed(writer.append(id, await inRing(seededBytes(100_000, name))));
    }
    await writer.close();
    expect(readdirSync(path.join(dir, 'one'))).toEqual([]);
    expect(readdirSync(path.join(dir, 'two'))).toEqual([]);
  });

  it("sets a folder's attributes on the folder, never through a symlink in its place", async () => {
    const dir = fresh();
    const outside = fresh();
    chmodSync(outside, 0o755);
    symlinkSync(outside, path.join(dir, 'link'));
    writer = new FileWriter(RING);
    writer.folderAttributes(path.join(dir, 'link'), { mode: 0o700, uid: 0, gid: 0, mtimeS: 1_000_000_000, mtimeNs: 0 });
    await expect(writer.drain()).rejects.toMatchObject({ code: expect.stringMatching(/^(ELOOP|ENOTDIR)$/) });
    expect(lstatSync(outside).mode & 0o777).toBe(0o755);
  });

  it('reports a failure at drain and at the next hand-over', async () => {
    const dir = fresh();
    writer = new FileWriter(RING);
    pushed(writer.writeWhole(placed(path.join(dir, 'no such folder', 'f')), [await inRing(Buffer.from('x'))]));
    await expect(writer.drain()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => writer.writeWhole(placed(path.join(dir, 'g')), [])).toThrow(/ENOENT/);
    expect(existsSync(path.join(dir, 'g'))).toBe(false);
  });

  it('refuses to wait for room that nothing will free', async () => {
    writer = new FileWriter(RING);
    await writer.reserve(RING / 2);
    await expect(writer.reserve(RING / 2 + 1)).rejects.toThrow(/holds no/);
  });
});
