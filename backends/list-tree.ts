// Recursive listing, the operation check and prune live on. Backends with a faster native way
// (OneDrive's batched pages) provide listTree(); the rest are walked folder by folder with
// `threads` folders in flight, which for chunks/ means the 256 prefix folders in parallel.

import pLimit from 'p-limit';
import type { Backend, Entry, ListTreeOptions } from './backend.js';

export async function listTree(backend: Backend, dir: string, options: ListTreeOptions): Promise<Entry[]> {
  if (backend.listTree) return backend.listTree(dir, options);
  const limit = pLimit(Math.max(1, options.threads));
  const files: Entry[] = [];
  const walk = async (rel: string): Promise<void> => {
    options.signal?.throwIfAborted();
    const entries = await limit(() => backend.list(rel === '' ? dir : `${dir}/${rel}`));
    const subdirs: Promise<void>[] = [];
    for (const e of entries) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.dir) subdirs.push(walk(name));
      else files.push({ name, size: e.size, dir: false });
    }
    options.onProgress?.(files.length);
    await Promise.all(subdirs);
  };
  await walk('');
  return files;
}
