// dbk diff -r A -r B: what was added, removed or changed between two revisions.

import type { FileEntry } from '../format/file-list.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

export interface DiffOptions extends OpenOptions {
  from: number;
  to: number;
  snapshotId?: string;
}

export interface DiffItem {
  change: 'added' | 'removed' | 'changed';
  path: string;
  before?: FileEntry;
  after?: FileEntry;
}

const same = (a: FileEntry, b: FileEntry) =>
  a.type === b.type && a.size === b.size && a.mode === b.mode && a.target === b.target && (a.hash === undefined ? b.hash === undefined : b.hash !== undefined && a.hash.equals(b.hash));

export async function diff(o: DiffOptions): Promise<DiffItem[]> {
  const repo = await Repository.open(o);
  try {
    const id = o.snapshotId ?? repo.snapshotId;
    const [a, b] = await Promise.all([o.from, o.to].map(async (n) => new Map((await repo.readFileList(await repo.loadRevision(id, n))).map((e) => [e.path, e]))));
    const out: DiffItem[] = [];
    for (const [p, before] of a!) {
      const after = b!.get(p);
      if (!after) out.push({ change: 'removed', path: p, before });
      else if (!same(before, after)) out.push({ change: 'changed', path: p, before, after });
    }
    for (const [p, after] of b!) if (!a!.has(p)) out.push({ change: 'added', path: p, after });
    return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  } finally {
    await repo.close();
  }
}
