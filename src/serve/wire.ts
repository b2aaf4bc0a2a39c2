// The console API's shapes on the wire: what /api/ sends and takes as JSON. Shared by the server
// (src/serve/) and the page (console/), so the two cannot drift apart. Types only, no imports: the
// page's build sees this file and nothing else of the server.

export interface Session {
  csrf: string;
  repository: string;
  version: string;
  storages: { name: string; url: string }[];
}

/** A revision with the figures of `check -tabular`. */
export interface RevisionStats extends Revision {
  chunks: number;
  bytes: number;
  uniqueChunks: number;
  uniqueBytes: number;
  newChunks: number;
  newBytes: number;
}

export interface IdOverview {
  id: string;
  revisionCount: number;
  lastBackup: number | null;
  storedBytes: number;
  revisions: RevisionStats[];
}

export interface OverviewReady {
  state: 'ready';
  storage: string;
  computedAt: number;
  /** the check behind the figures found no error */
  ok: boolean;
  findings: number;
  ids: IdOverview[];
}

export interface OverviewComputing {
  state: 'computing';
  phase: string;
  done: number;
  total?: number;
}

export type Overview = OverviewReady | OverviewComputing;

export interface Revision {
  revision: number;
  startTime: number;
  endTime: number;
  tag: string;
  files: number;
  fileBytes: number;
}

export interface DiffItem {
  change: 'added' | 'removed' | 'changed';
  path: string;
  type: string;
  sizeBefore?: number;
  sizeAfter?: number;
}

export interface Diff {
  items: DiffItem[];
  truncated: boolean;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev';

export interface Entry {
  name: string;
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  target?: string;
}

/** /api/tree's answer (202) while the revision's browse index is built: ask again shortly. */
export interface TreeIndexing {
  state: 'indexing';
  /** entries of the file list indexed so far */
  entries: number;
}

export interface TreePage {
  path: string;
  total: number;
  entries: Entry[];
}

export type JobKind = 'backup' | 'check' | 'prune' | 'restore';
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface JobProgress {
  done: number;
  total?: number;
  unit: 'files' | 'bytes' | 'chunks' | 'revisions' | 'steps';
  phase?: string;
}

export interface Job {
  id: string;
  kind: JobKind;
  storage: string;
  /** what it was started with */
  request: JobRequest;
  state: JobState;
  startedAt: number;
  endedAt?: number;
  progress?: JobProgress;
  summary?: string;
  /** each kind of job has its own: a prune's holds `plan` (lines) and `dryRun` */
  // biome-ignore lint/suspicious/noExplicitAny: read by the page per kind of job
  result?: any;
  error?: string;
}

export type JobRequest =
  | { kind: 'backup'; storage: string }
  | { kind: 'check'; storage: string; chunks?: boolean; files?: boolean }
  | { kind: 'prune'; storage: string; keep?: string[]; exhaustive?: boolean; dryRun: boolean }
  | { kind: 'restore'; storage: string; id: string; revision: number; paths: string[]; target: string; overwrite?: boolean };

export interface LogFile {
  name: string;
  size: number;
  mtime: number;
}
