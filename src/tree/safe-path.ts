// Restore never writes outside its target, whatever a revision says: every path is checked to be
// relative and free of '..' before anything is written, and every parent folder is checked to be
// a real folder, not a symlink that could lead elsewhere.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DbkError } from '../errors.js';
import { osPath } from '../format/names.js';
import { compareWalkOrder } from './scanner.js';

function checkRelativePath(p: string): void {
  const bad = p === '' || p.startsWith('/') || p.includes('\0') || /^[A-Za-z]:/.test(p) || p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new DbkError('CORRUPT', `the revision holds an unsafe path: ${JSON.stringify(p)}; nothing was restored`);
}

/**
 * Every path is safe (checkRelativePath), and none lies below a file or symlink of the same
 * revision: a crafted revision could otherwise restore a symlink `d` to elsewhere over the folder
 * `d` that holds a file `d/x` still to be written, and the write would follow it.
 */
export function checkRevisionPaths(entries: Iterable<{ path: string; type: string }>): void {
  const notFolders = new Set<string>();
  const all = [...entries];
  for (const e of all) {
    checkRelativePath(e.path);
    if (e.type !== 'dir') notFolders.add(e.path);
  }
  for (const e of all) {
    for (let i = e.path.indexOf('/'); i !== -1; i = e.path.indexOf('/', i + 1)) {
      const parent = e.path.slice(0, i);
      if (notFolders.has(parent)) throw insideNotFolder(e.path, parent);
    }
  }
}

const insideNotFolder = (p: string, parent: string) => new DbkError('CORRUPT', `the revision holds ${JSON.stringify(p)} inside ${JSON.stringify(parent)}, which is not a folder; nothing was restored`);

/**
 * checkRevisionPaths() for a list read as a stream, in the memory of one branch of the tree: in
 * walk order (every list dbk writes) whatever lies inside an entry comes right after it, so the
 * entries above the current one are all that need keeping. `add` returns false once the list turns
 * out not to be in walk order; the caller then checks it whole with checkRevisionPaths().
 */
export class RevisionPathCheck {
  /** the current entry and the entries above it, outermost first */
  private readonly branch: { path: string; folder: boolean }[] = [];
  private last: string | undefined;

  add(e: { path: string; type: string }): boolean {
    checkRelativePath(e.path);
    if (this.last !== undefined && compareWalkOrder(this.last, e.path) >= 0) return false;
    this.last = e.path;
    while (this.branch.length > 0 && !e.path.startsWith(`${this.branch.at(-1)!.path}/`)) this.branch.pop();
    const parent = this.branch.at(-1);
    if (parent && !parent.folder) throw insideNotFolder(e.path, parent.path);
    this.branch.push({ path: e.path, folder: e.type === 'dir' });
    return true;
  }
}

/**
 * Creates folders below a root, refusing to pass through anything but real folders. With
 * `replace` (restore's overwrite), a file or symlink in the way of a folder is removed (a symlink
 * itself, never what it points at) and a real folder made in its place (the restore writer, seeing
 * `replace`, likewise replaces a folder in the way of a file).
 */
export class SafeTree {
  /** folders known to be real folders inside the root, or being made sure of */
  private readonly verified = new Map<string, Promise<void> | true>([['', true]]);
  /** folders this tree made */
  private readonly made = new Set<string>();
  /** folders that could not be made (or made sure of) */
  private readonly unusable = new Set<string>();

  constructor(
    readonly root: string,
    readonly replace = false,
  ) {}

  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  /** abs() undone: the relative path, with `/` between names. */
  rel(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/');
  }

  /** Whether the parent folders of `rel` are made and checked already: prepareParent() would have nothing to do. */
  parentReady(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    // a folder is marked ready only after every folder above it
    return slash === -1 || this.verified.get(rel.slice(0, slash)) === true;
  }

  /**
   * Makes the folders (relative paths, each given after its parent or with its parent in place),
   * many at a time: a mkdir costs the file system about half a millisecond here, and a tree of
   * 10,000 folders made one by one kept the restore waiting 5 s before it wrote any file.
   */
  async prepareFolders(folders: readonly string[], onFailure: (rel: string, e: unknown) => void): Promise<void> {
    const byDepth = new Map<number, string[]>();
    for (const rel of folders) {
      const depth = rel.split('/').length;
      const level = byDepth.get(depth);
      if (level) level.push(rel);
      else byDepth.set(depth, [rel]);
    }
    for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
      const level = byDepth.get(depth)!;
      for (let i = 0; i < level.length; i += 64) {
        // one folder that cannot be made fails alone, and the files inside it with it
        await Promise.all(level.slice(i, i + 64).map((rel) => this.prepareParent(`${rel}/x`).catch((e: unknown) => onFailure(rel, e))));
      }
    }
  }

  /** Makes sure the parent folders of `rel` exist and are real folders inside the root. */
  async prepareParent(rel: string): Promise<void> {
    const parts = rel.split('/').slice(0, -1);
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      let done = this.verified.get(cur);
      if (done === true) continue;
      if (!done) {
        // once per folder, however many files wait for it at once
        const rel = cur;
        done = this.ensureDir(rel).then(
          () => void this.verified.set(rel, true),
          (e: unknown) => {
            this.unusable.add(rel);
            throw e;
          },
        );
        this.verified.set(rel, done);
      }
      await done;
    }
  }

  private async ensureDir(rel: string): Promise<void> {
    const abs = this.abs(rel);
    // in a folder this tree made, nothing can be in the way
    const st = this.inNewFolder(rel) ? undefined : await fs.lstat(osPath(abs)).catch(() => undefined);
    if (st && !st.isDirectory()) {
      if (!this.replace) {
        throw new DbkError('CONFIG', `${rel} is in the way of a folder being restored (${st.isSymbolicLink() ? 'a symlink' : 'a file'}); nothing was written through it`);
      }
      await fs.unlink(osPath(abs));
    }
    if (!st?.isDirectory()) {
      await fs.mkdir(osPath(abs));
      this.made.add(rel);
    }
  }

  /** Whether `rel` (a folder) or a folder above it could not be made. */
  failed(rel: string): boolean {
    for (let at = rel.length; at > 0; at = rel.lastIndexOf('/', at - 1)) if (this.unusable.has(rel.slice(0, at))) return true;
    return false;
  }

  /** Whether `rel` is in a folder this tree made: then only what the restore puts there can be in it. */
  inNewFolder(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    return slash > 0 && this.made.has(rel.slice(0, slash));
  }
}
