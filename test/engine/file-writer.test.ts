// The restore's file writer thread: every byte handed over lands in the right file, through the
// shared ring however often it wraps; owner-independent attributes are set; a file is created
// only where nothing is, replaced only through a temporary name, and a failure reaches drain().

import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWriter, type PlacedFile, SPAN_MAX } from '../../src/engine/file-writer.js';
import { seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const placed = (target: string, over: Partial<PlacedFile> = {}): PlacedFile => ({
  target,
  viaTemp: false,
  replaceFolder: false,
  mode: 0o640,
  uid: process.getuid?.() ?? 0,
  gid: process.getgid?.() ?? 0,
  mtimeMs: 1_600_000_000_123,
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

  it('writes whole files and streamed ones byte for byte while the ring wraps many times', async () => {
    const dir = fresh();
    writer = new FileWriter();
    const expected = new Map<string, Buffer>();
    // sizes that do not divide the ring: spans wrap at every offset; pieces split at odd places
    const sizes = [0, 1, 4095, 65_537, SPAN_MAX - 3, SPAN_MAX, 3 * SPAN_MAX + 17, 1_000_003];
    for (let round = 0; round < 3; round++) {
      for (const [i, size] of sizes.entries()) {
        const name = path.join(dir, `f${round}-${i}`);
        const data = Buffer.alloc(size, seededBytes(9973, name)); // a prime period: misplaced bytes show
        expected.set(name, data);
        if (size <= SPAN_MAX) {
          await writer.writeWhole(placed(name), [data.subarray(0, size >> 1), data.subarray(size >> 1)]);
        } else {
          const id = writer.open(placed(name, { viaTemp: true }));
          for (let at = 0; at < size; at += 5_000_011) await writer.append(id, data.subarray(at, at + 5_000_011));
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

  it('finish without commit leaves neither the file nor its temporary name', async () => {
    const dir = fresh();
    writer = new FileWriter();
    const id = writer.open(placed(path.join(dir, 'big'), { viaTemp: true }));
    await writer.append(id, seededBytes(1 << 20, 'x'));
    writer.finish(id, false);
    await writer.drain();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces an existing file only through a temporary name, and never writes through a symlink', async () => {
    const dir = fresh();
    const outside = path.join(fresh(), 'secret');
    writeFileSync(outside, 'keep');
    writeFileSync(path.join(dir, 'old'), 'old content');
    writer = new FileWriter();
    await writer.writeWhole(placed(path.join(dir, 'old'), { viaTemp: true }), [Buffer.from('new')]);
    await writer.drain();
    expect(readFileSync(path.join(dir, 'old'), 'utf8')).toBe('new');

    writer.symlink(path.join(dir, 'link'), outside, 1_600_000_000_000);
    await writer.drain();
    expect(readlinkSync(path.join(dir, 'link'))).toBe(outside);
    await writer.writeWhole(placed(path.join(dir, 'link')), [Buffer.from('through the link')]);
    await expect(writer.drain()).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(outside, 'utf8')).toBe('keep');
  });

  it('reports a failure at drain and at the next hand-over', async () => {
    const dir = fresh();
    writer = new FileWriter();
    await writer.writeWhole(placed(path.join(dir, 'no such folder', 'f')), [Buffer.from('x')]);
    await expect(writer.drain()).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(writer.writeWhole(placed(path.join(dir, 'g')), [Buffer.from('y')])).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(path.join(dir, 'g'))).toBe(false);
  });
});
