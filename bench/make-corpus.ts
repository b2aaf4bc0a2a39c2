// Deterministic corpora for the benchmarks: the same kind and scale give the same bytes on every
// machine, so dbk, restic and borg read exactly the same data in one run.
//
// usage: node dist/bench/make-corpus.js KIND DIR [--scale F | --files N]
//   small     lots of small files: 100,000 files of 1–16 KiB in 16 × 16 × 16 folders, every other one
//             text (compressible), the others random (~850 MB)
//   big       one file of 1 GiB of random bytes
//   big-edit  changes DIR/big.bin in place (after `big` and a first backup): 64 scattered 4 KiB
//             overwrites and 1 KiB inserted at the front, so content-defined cuts must realign
//   mixed     a tree like a home folder: 20,000 files in 2,000 folders, sizes log-uniform from
//             100 B to 64 MiB, half text
//   blend     1 GiB: 60% in 8 large random files (incompressible), 40% in ~6,500 files of 4–256 KiB
//             (log-uniform, half text) in 64 folders
//   files     many tiny files (issue 15): --files N files of 64–264 random bytes (each distinct: its
//             number in the first 4 bytes), 1,000 a folder, the folders under 32 top-level ones:
//             d00/d000/f000 … d31/d031/f999, d00/d032/f000 …
// --scale multiplies the counts (small, mixed) or the size (big, blend).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Random, seededRandom } from '../src/seeded-random.js';

const WORDS = 'backup chunk storage revision snapshot prune check restore file folder data block hash index the of and to in is that for it as with on by this are from'.split(' ');

/** Random bytes from the generator's seed, fast: xorshift32 words seeded once per buffer. */
function randomFill(buf: Buffer, rnd: Random): Buffer {
  let x = (rnd.int(0xffffffff) | 1) >>> 0;
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < buf.length; i++) buf[i] = rnd.int(256);
  return buf;
}

/** English-looking text: compresses about as well as source code or documents do. */
function textFill(buf: Buffer, rnd: Random): Buffer {
  for (let at = 0; at < buf.length; ) at += buf.write(`${WORDS[rnd.int(WORDS.length)]}${rnd.int(10) === 0 ? '\n' : ' '}`, at, 'latin1');
  return buf;
}

function write(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function small(dir: string, scale: number): void {
  const rnd = seededRandom(1);
  const count = Math.round(100_000 * scale);
  for (let i = 0; i < count; i++) {
    const folder = path.join(dir, `d${i % 16}`, `e${(i >> 4) % 16}`, `f${(i >> 8) % 16}`);
    const data = Buffer.alloc(1024 + rnd.int(15 * 1024));
    write(path.join(folder, `file-${i}.${i % 2 ? 'txt' : 'bin'}`), i % 2 ? textFill(data, rnd) : randomFill(data, rnd));
  }
}

function big(dir: string, scale: number): void {
  const rnd = seededRandom(2);
  const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
  const piece = Buffer.alloc(16 << 20);
  for (let left = Math.round((1 << 30) * scale); left > 0; left -= piece.length) fs.writeSync(fd, randomFill(piece, rnd), 0, Math.min(piece.length, left));
  fs.closeSync(fd);
}

function bigEdit(dir: string): void {
  const rnd = seededRandom(3);
  const file = path.join(dir, 'big.bin');
  const data = fs.readFileSync(file);
  for (let i = 0; i < 64; i++) randomFill(Buffer.alloc(4096), rnd).copy(data, rnd.int(data.length - 4096));
  fs.writeFileSync(file, Buffer.concat([randomFill(Buffer.alloc(1024), rnd), data]));
}

function mixed(dir: string, scale: number): void {
  const rnd = seededRandom(4);
  const folders = Math.max(1, Math.round(2000 * scale));
  const files = Math.round(20_000 * scale);
  const [low, high] = [Math.log(100), Math.log(64 << 20)];
  for (let i = 0; i < files; i++) {
    const size = Math.round(Math.exp(low + (high - low) * rnd.next()));
    const data = Buffer.alloc(size);
    write(path.join(dir, `dir-${rnd.int(folders)}`, `file-${i}`), rnd.int(2) ? textFill(data, rnd) : randomFill(data, rnd));
  }
}

function blend(dir: string, scale: number): void {
  const rnd = seededRandom(5);
  const total = Math.round((1 << 30) * scale);
  const large = Math.floor((total * 0.6) / 8);
  const piece = Buffer.alloc(16 << 20);
  for (let i = 0; i < 8; i++) {
    fs.mkdirSync(path.join(dir, 'large'), { recursive: true });
    const fd = fs.openSync(path.join(dir, 'large', `random-${i}.bin`), 'w');
    for (let left = large; left > 0; left -= piece.length) fs.writeSync(fd, randomFill(piece, rnd), 0, Math.min(piece.length, left));
    fs.closeSync(fd);
  }
  const [low, high] = [Math.log(4 << 10), Math.log(256 << 10)];
  for (let i = 0, left = total - 8 * large; left > 0; i++) {
    const data = Buffer.alloc(Math.min(left, Math.round(Math.exp(low + (high - low) * rnd.next()))));
    left -= data.length;
    write(path.join(dir, 'small', `dir-${i % 64}`, `file-${i}.${i % 2 ? 'txt' : 'bin'}`), i % 2 ? textFill(data, rnd) : randomFill(data, rnd));
  }
}

/** Synchronous calls, one folder made once: 1,000,000 files in about a minute. */
function files(dir: string, count: number): void {
  const rnd = seededRandom(5);
  const buf = Buffer.alloc(264);
  let folder = '';
  for (let i = 0; i < count; i++) {
    if (i % 1000 === 0) {
      const k = i / 1000;
      folder = path.join(dir, `d${String(k % 32).padStart(2, '0')}`, `d${String(k).padStart(3, '0')}`);
      fs.mkdirSync(folder, { recursive: true });
    }
    const data = randomFill(buf.subarray(0, 64 + rnd.int(201)), rnd);
    data.writeUInt32LE(i, 0);
    fs.writeFileSync(path.join(folder, `f${String(i % 1000).padStart(3, '0')}`), data);
  }
}

const [kind, dir, ...rest] = process.argv.slice(2);
const option = (name: string, otherwise: number) => (rest.includes(name) ? Number(rest[rest.indexOf(name) + 1]) : otherwise);
const scale = option('--scale', 1);
const count = option('--files', 0);
if (!kind || !dir || !(scale > 0) || !['small', 'big', 'big-edit', 'mixed', 'blend', 'files'].includes(kind) || (kind === 'files' && !(Number.isInteger(count) && count > 0))) {
  process.stderr.write('usage: node dist/bench/make-corpus.js small|big|big-edit|mixed|blend DIR [--scale F] | files DIR --files N\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
const started = performance.now();
if (kind === 'small') small(dir, scale);
else if (kind === 'big') big(dir, scale);
else if (kind === 'big-edit') bigEdit(dir);
else if (kind === 'blend') blend(dir, scale);
else if (kind === 'files') files(dir, count);
else mixed(dir, scale);
process.stderr.write(`make-corpus ${kind}: ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
