// A recursive listing of an S3 prefix: each folder ('/'-delimited prefix) is listed page by page
// with `threads` folders at once, so chunks/ goes as its 256 prefixes in parallel, and every page
// of files is handed on as it arrives (ListObjectsV2 gives at most 1,000 keys a page).

import pLimit from 'p-limit';
import type { Entry, FoundFiles, ListTreeOptions } from '../backend.js';

export interface FolderPage {
  files: Entry[];
  /** names of the sub-folders this page names */
  folders: string[];
}

export type ListFolder = (folder: string, page: (p: FolderPage) => void) => Promise<void>;

/**
 * Hands every file below `dir` to `found`. After a failure no more folders are listed, the first
 * failure is thrown, and `found` is never called once the returned promise has settled.
 */
export async function listFoldersInParallel(dir: string, options: ListTreeOptions, found: FoundFiles, listFolder: ListFolder): Promise<void> {
  const limit = pLimit(Math.max(1, options.threads));
  let failure: { e: unknown } | undefined;
  const pending: Promise<void>[] = [];
  const walk = (rel: string): void => {
    const listing = limit(async () => {
      if (failure) return;
      options.signal?.throwIfAborted();
      await listFolder(rel === '' ? dir : `${dir}/${rel}`, ({ files, folders }) => {
        if (failure) return;
        if (files.length > 0) found(rel, files);
        for (const name of folders) walk(rel === '' ? name : `${rel}/${name}`);
      });
    }).catch((e: unknown) => {
      failure ??= { e };
    });
    pending.push(listing);
  };
  walk('');
  // folders found while waiting add to `pending`: wait until it stops growing
  for (let waited = 0; waited < pending.length; ) {
    const batch = pending.slice(waited);
    waited = pending.length;
    await Promise.all(batch);
  }
  if (failure) throw failure.e;
}
