// The storage contract. Every backend (local, sftp, onedrive, memory) implements exactly this and
// passes the one conformance suite in test/conformance; engine code never knows which it talks to.
//
// Paths are relative to the storage root, '/'-separated, never starting with '/', e.g.
// "chunks/ab/cdef…". Errors are DbkError with code NOT_FOUND, ALREADY_EXISTS, TRANSIENT (a retry
// may help: dropped connection, throttling) or PERMANENT (stop: permission, quota).

import type { Logger } from '../src/log.js';
import type { Settings } from '../src/settings.js';

export interface Entry {
  /** name within the listed folder */
  name: string;
  /** size in bytes; 0 for folders */
  size: number;
  dir: boolean;
}

export interface Backend {
  /** where this storage is, for messages: never contains a secret */
  readonly location: string;

  /** Direct children of a folder. A missing folder lists as empty. Temporary upload files are never listed. */
  list(dir: string): Promise<Entry[]>;

  /** Whole contents of a file. NOT_FOUND when missing. */
  read(path: string): Promise<Buffer>;

  /**
   * Creates a file with these bytes, atomically: readers see all of it or none of it, and a crash
   * leaves at most a temporary file that list() skips. Missing parent folders are created.
   * ALREADY_EXISTS when the path exists; the existing file is left untouched.
   */
  write(path: string, data: Uint8Array): Promise<void>;

  /** Renames a file. NOT_FOUND when `from` is missing, ALREADY_EXISTS (nothing changed) when `to` exists. */
  rename(from: string, to: string): Promise<void>;

  /**
   * Optional, for storages whose rename is a copy and then a delete (S3): creates `to` with the
   * bytes of `from` and leaves `from` in place. NOT_FOUND when `from` is missing, ALREADY_EXISTS
   * (nothing changed) when `to` exists. A caller that must not remove `from` behind another
   * client's back (a fossil another prune may have just made anew) copies instead of renaming.
   */
  copy?(from: string, to: string): Promise<void>;

  /** Deletes a file. Deleting a missing file is not an error. */
  delete(path: string): Promise<void>;

  /** Size and kind of a path, or undefined when it does not exist. */
  stat(path: string): Promise<Entry | undefined>;

  /** Creates a folder and its parents; an existing folder is fine. */
  mkdir(path: string): Promise<void>;

  /**
   * Optional: every file below `dir`, handed to `found` a page at a time while the listing goes
   * on, for backends that have a faster way than walking folder by folder (parallel pages,
   * batched requests). See listTree() in list-tree.ts.
   */
  listTree?(dir: string, options: ListTreeOptions, found: FoundFiles): Promise<void>;

  /**
   * Optional: how many small calls (stat, rename, delete) to keep under way at once for full
   * speed, where the storage carries many on one connection or in one request (SFTP's pipelined
   * requests, OneDrive's $batch). Callers making thousands of them use it instead of `threads`.
   */
  readonly smallCallsInFlight?: number | undefined;

  /** Releases connections. The backend is unusable afterwards. */
  close(): Promise<void>;
}

export interface ListTreeOptions {
  /** parallel storage operations */
  threads: number;
  signal?: AbortSignal;
}

/**
 * Receives the files of a recursive listing as they are found, each file once: files of `folder`
 * (relative to the listed one, '' for itself), with their names within it. A listing of millions
 * is never held whole: the consumer keeps what it needs (a chunk id, a size) and lets the entries
 * go, so they die young and cost the garbage collector next to nothing; and no path is joined
 * for each file.
 */
export type FoundFiles = (folder: string, files: readonly Entry[]) => void;

/** Opens a storage of one scheme: what each backend module exports as `openStorage` for the registry. */
export type OpenStorage = (url: string, ctx: BackendContext) => Promise<Backend>;

/** What a backend needs to know when it is opened. */
export interface BackendContext {
  /** per-storage settings and secrets (DBK_<STORAGE>_<KEY>, then preferences) */
  settings: Settings;
  /** the repository directory (holding .dbk/), for state such as pinned host keys */
  repoDir: string;
  /** parallel operations the caller intends to run */
  threads: number;
  log: Logger;
}
