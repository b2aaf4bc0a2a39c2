// The trees the torture harness backs up: a few small files in two folders, edited between
// backups (new, changed in place, removed, copied from another client's tree so that ids share
// chunks), copied aside when a backup starts (the tree that backup must restore to), and compared
// byte for byte.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Random } from '../../src/seeded-random.js';

const FOLDERS = ['', 'sub', 'sub/deeper'];
const MAX_FILES = 12;

/** Every edit gets an mtime of its own: a change is never hidden by an unchanged size and mtime. */
let stamp = 1_600_000_000;

function writeFile(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  stamp++;
  fs.utimesSync(file, stamp, stamp);
}

/** Files of a tree, relative, without .dbk/. */
export function filesOf(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (rel === '' && e.name === '.dbk') continue;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

function content(rnd: Random, others: readonly string[]): Buffer {
  const kind = rnd.int(5);
  if (kind === 0 && others.length > 0) return fs.readFileSync(rnd.pick(others)); // shared with another id
  if (kind === 1) return Buffer.alloc(rnd.int(3) === 0 ? 0 : rnd.int(9000), rnd.int(256)); // compressible, or empty
  return rnd.bytes(rnd.int(24_000));
}

/**
 * A few random edits. `others` are files of other clients' trees (absolute paths), copied now
 * and then so that snapshot ids share chunks.
 */
export function editTree(root: string, rnd: Random, others: readonly string[]): void {
  for (let n = 1 + rnd.int(3); n > 0; n--) {
    const files = filesOf(root);
    const action = files.length < 3 ? 0 : files.length >= MAX_FILES ? 1 + rnd.int(2) : rnd.int(3);
    if (action === 0) {
      writeFile(path.join(root, rnd.pick(FOLDERS), `f${rnd.int(1000)}.bin`), content(rnd, others));
    } else if (action === 1) {
      fs.rmSync(path.join(root, rnd.pick(files)));
    } else {
      const file = path.join(root, rnd.pick(files));
      const data = fs.readFileSync(file);
      if (data.length > 0) rnd.bytes(Math.min(data.length, 1 + rnd.int(600))).copy(data, rnd.int(data.length));
      writeFile(file, data.length > 0 && rnd.int(2) === 0 ? data : Buffer.concat([data, rnd.bytes(rnd.int(3000))]));
    }
  }
}

/** Copies the tree's files (not .dbk/) to `to`. */
export function copyTree(root: string, to: string): void {
  for (const f of filesOf(root)) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(to, f));
  }
  fs.mkdirSync(to, { recursive: true });
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** path → SHA-256 of every file of a tree. */
export function manifestOf(root: string): Map<string, string> {
  return new Map(filesOf(root).map((f) => [f, sha256(fs.readFileSync(path.join(root, f)))]));
}

/** How two trees' files differ, one line each; empty when they are equal byte for byte. */
export function treeDifferences(expected: string, actual: string): string[] {
  const want = manifestOf(expected);
  const got = manifestOf(actual);
  const out: string[] = [];
  for (const [f, h] of want) if (got.get(f) !== h) out.push(`${f}: ${got.has(f) ? 'different bytes' : 'missing'}`);
  for (const f of got.keys()) if (!want.has(f)) out.push(`${f}: not in the tree backed up`);
  return out;
}
