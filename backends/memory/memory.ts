// An in-memory storage for tests and dry runs. Keeps the contract exactly, so the conformance
// suite runs against it too.

import { alreadyExists, notFound } from '../../src/errors.js';
import type { Backend, Entry } from '../backend.js';
import { isTempName } from '../temp-names.js';

export class MemoryBackend implements Backend {
  readonly location = 'memory:';
  readonly files = new Map<string, Buffer>();
  private readonly dirs = new Set<string>(['']);

  async list(dir: string): Promise<Entry[]> {
    const prefix = dir === '' ? '' : `${dir}/`;
    const out = new Map<string, Entry>();
    for (const [p, data] of this.files) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) {
        if (!isTempName(rest)) out.set(rest, { name: rest, size: data.length, dir: false });
      } else out.set(rest.slice(0, slash), { name: rest.slice(0, slash), size: 0, dir: true });
    }
    for (const d of this.dirs) {
      if (d === '' || !d.startsWith(prefix)) continue;
      const rest = d.slice(prefix.length);
      if (rest !== '' && !rest.includes('/')) out.set(rest, { name: rest, size: 0, dir: true });
    }
    return [...out.values()];
  }

  async read(p: string): Promise<Buffer> {
    const data = this.files.get(p);
    if (!data) throw notFound(p);
    return Buffer.from(data);
  }

  async write(p: string, data: Uint8Array): Promise<void> {
    // no await between check and set: of concurrent writers of one name, exactly one wins
    if (this.files.has(p)) throw alreadyExists(p);
    this.addDirs(parentOf(p));
    this.files.set(p, Buffer.from(data));
  }

  async rename(from: string, to: string): Promise<void> {
    const data = this.files.get(from);
    if (!data) throw notFound(from);
    if (this.files.has(to)) throw alreadyExists(to);
    this.addDirs(parentOf(to));
    this.files.delete(from);
    this.files.set(to, data);
  }

  async delete(p: string): Promise<void> {
    this.files.delete(p);
  }

  async stat(p: string): Promise<Entry | undefined> {
    const name = p.slice(p.lastIndexOf('/') + 1);
    const data = this.files.get(p);
    if (data) return { name, size: data.length, dir: false };
    if (this.dirs.has(p) || [...this.files.keys()].some((f) => f.startsWith(`${p}/`))) return { name, size: 0, dir: true };
    return undefined;
  }

  async mkdir(p: string): Promise<void> {
    this.addDirs(p);
  }

  private addDirs(p: string): void {
    for (let d = p; d !== ''; d = parentOf(d)) this.dirs.add(d);
  }

  async close(): Promise<void> {}
}

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
