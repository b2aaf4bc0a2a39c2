// Restore never writes outside its target, whatever a revision says: every path is checked to be
// relative and free of '..' before anything is written, and every parent folder is checked to be
// a real folder, not a symlink that could lead elsewhere.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DbkError } from '../errors.js';

export function checkRelativePath(p: string): void {
  const bad =
    p === '' || p.startsWith('/') || p.includes('\0') || /^[A-Za-z]:/.test(p) ||
    p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new DbkError('CORRUPT', `the revision holds an unsafe path: ${JSON.stringify(p)}; nothing was restored`);
}

/**
 * Creates folders below a root, refusing to pass through anything but real folders. With
 * `replace` (restore's overwrite), a file or symlink in the way of a folder is removed (a symlink
 * itself, never what it points at) and a real folder made in its place (the restore writer, seeing
 * `replace`, likewise replaces a folder in the way of a file).
 */
export class SafeTree {
  private readonly verified = new Set<string>(['']);
  /** folders this tree made */
  private readonly made = new Set<string>();

  constructor(
    readonly root: string,
    readonly replace = false,
  ) {}

  abs(rel: string): string {
    return path.join(this.root, ...rel.split('/'));
  }

  /** Makes sure the parent folders of `rel` exist and are real folders inside the root. */
  async prepareParent(rel: string): Promise<void> {
    const parts = rel.split('/').slice(0, -1);
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.verified.has(cur)) continue;
      await this.ensureDir(cur);
    }
  }

  async ensureDir(rel: string): Promise<void> {
    const abs = this.abs(rel);
    const st = await fs.lstat(abs).catch(() => undefined);
    if (st && !st.isDirectory()) {
      if (!this.replace) {
        throw new DbkError('CONFIG', `${rel} is in the way of a folder being restored (${st.isSymbolicLink() ? 'a symlink' : 'a file'}); nothing was written through it`);
      }
      await fs.unlink(abs);
    }
    if (!st?.isDirectory()) {
      await fs.mkdir(abs);
      this.made.add(rel);
    }
    this.verified.add(rel);
  }

  /** Whether `rel` is in a folder this tree made: then only what the restore puts there can be in it. */
  inNewFolder(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    return slash > 0 && this.made.has(rel.slice(0, slash));
  }
}
