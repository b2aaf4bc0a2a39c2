// dbk diff -r A -r B: what was added, removed or changed between two revisions. Both file lists
// are read as streams in walk order and merged, so two revisions of millions are compared in the
// memory of a few metadata chunks.

import type { FileEntry } from '../format/file-list.js';
import { type OpenOptions, Repository } from '../storage/repository.js';
import { compareWalkOrder } from '../tree/scanner.js';

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

/** The differences in walk order (the order of the lists). */
export async function* diffStream(o: DiffOptions): AsyncGenerator<DiffItem> {
  const repo = await Repository.open(o);
  try {
    const id = o.snapshotId ?? repo.snapshotId;
    const [from, to] = await Promise.all([repo.loadRevision(id, o.from), repo.loadRevision(id, o.to)]);
    const a = repo.fileListEntries(from);
    const b = repo.fileListEntries(to);
    let before = await a.next();
    let after = await b.next();
    while (!before.done || !after.done) {
      const order = before.done ? 1 : after.done ? -1 : compareWalkOrder(before.value.path, after.value.path);
      if (order < 0) {
        yield { change: 'removed', path: before.value!.path, before: before.value! };
        before = await a.next();
      } else if (order > 0) {
        yield { change: 'added', path: after.value!.path, after: after.value! };
        after = await b.next();
      } else {
        if (!same(before.value!, after.value!)) yield { change: 'changed', path: after.value!.path, before: before.value!, after: after.value! };
        before = await a.next();
        after = await b.next();
      }
    }
  } finally {
    await repo.close();
  }
}

export async function diff(o: DiffOptions): Promise<DiffItem[]> {
  const out: DiffItem[] = [];
  for await (const d of diffStream(o)) out.push(d);
  return out;
}
