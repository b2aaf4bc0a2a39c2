// Recursive listing, the operation check and prune live on. Backends with a faster native way
// (OneDrive's batched pages) provide listTree(); the rest are walked folder by folder with
// `threads` folders in flight, which for chunks/ means the 256 prefix folders in parallel.

import pLimit from 'p-limit';
import type { Backend, Entry, FoundFiles, ListTreeOptions } from './backend.js';

/**
 * Hands every file below `dir` to `found`, a folder or a page at a time. After a failure no more
 * folders are listed, and `found` is never called once the returned promise has settled.
 */
export async function listTree(backend: Backend, dir: string, options: ListTreeOptions, found: FoundFiles): Promise<void> {
  if (backend.listTree) return backend.listTree(dir, options, found);
  const limit = pLimit(Math.max(1, options.threads));
  let failure: { e: unknown } | undefined;
  const walk = async (rel: string): Promise<void> => {
    const subdirs: Promise<void>[] = [];
    try {
      // folders queued behind the limit when another failed are not listed at all
      const entries = await limit(() => {
        if (failure) return undefined;
        options.signal?.throwIfAborted();
        return backend.list(rel === '' ? dir : `${dir}/${rel}`);
      });
      if (!entries) return;
      const files: Entry[] = [];
      for (const e of entries) {
        if (e.dir) subdirs.push(walk(rel === '' ? e.name : `${rel}/${e.name}`));
        else files.push(e);
      }
      if (files.length > 0 && !failure) found(rel, files);
    } catch (e) {
      failure ??= { e };
    }
    await Promise.all(subdirs); // walks never reject: they record the failure
  };
  await walk('');
  if (failure) throw failure.e;
}

/** Every file below `dir` in one array, named by its path relative to `dir`: for small trees (tests, tools), not for chunks/. */
export async function collectTree(backend: Backend, dir: string, options: ListTreeOptions): Promise<Entry[]> {
  const all: Entry[] = [];
  await listTree(backend, dir, options, (folder, files) => {
    for (const f of files) all.push({ ...f, name: folder === '' ? f.name : `${folder}/${f.name}` });
  });
  return all;
}
