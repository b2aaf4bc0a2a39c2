// A backup's walk of the tree, on a thread of its own. An unchanged backup is the walk and the
// file lists, and on the main thread the walk's lstat and llistxattr calls were half of its CPU
// while the other core idled: here the main thread only takes the entries, a batch at a time.
// The thread walks a bounded number of batches ahead of what was taken. A first backup walks on
// the main thread instead (see startWalk in commands/backup.ts).

import { Worker } from 'node:worker_threads';
import { Inbox } from '../inbox.js';
import { workerFile } from '../storage/worker-file.js';
import { Filters } from '../tree/filters.js';
import type { ScannedEntry, ScanProblem, ScanReport } from '../tree/scanner.js';

export interface WalkInput {
  root: string;
  repoDir: string;
  xattrs: boolean;
  /** batches the thread may post before the first is taken */
  ahead: number;
}

/** Thread to main: the next batch of entries (empty with the last message), and what the walk could not back up meanwhile. */
export interface WalkMessage {
  entries: ScannedEntry[];
  problems: ScanProblem[];
  skipped: ScanProblem[];
  done?: true;
}

/** Batches (of up to 1,024 entries) walked ahead of the backup. */
const AHEAD_BATCHES = 8;

/**
 * scanTree() of `root` with the repository's filters, in a thread started now: its batches in
 * walk order, and what cannot be backed up in `report`. Leaving early stops the thread.
 */
export async function* walkInThread(root: string, repoDir: string, o: { xattrs: boolean }, report: ScanReport): AsyncGenerator<ScannedEntry[]> {
  Filters.load(repoDir); // a filters file that does not parse fails here, as itself, not in the thread
  const input: WalkInput = { root, repoDir, xattrs: o.xattrs, ahead: AHEAD_BATCHES };
  const worker = new Worker(workerFile('backup/walk-worker.js'), { workerData: input });
  const inbox = new Inbox<WalkMessage>();
  worker.on('message', (m: WalkMessage) => inbox.put(m));
  worker.on('error', (e) => inbox.fail(e));
  worker.on('exit', (code) => inbox.fail(new Error(`the walk stopped (exit code ${code})`)));
  try {
    for (;;) {
      const m = await inbox.take();
      report.problems.push(...m.problems);
      report.skipped.push(...m.skipped);
      if (m.done) return;
      worker.postMessage(0); // room for one more batch
      yield m.entries.map(withBuffers);
    }
  } finally {
    await worker.terminate();
  }
}

/** An entry as it left the thread: a Buffer arrives as a plain Uint8Array. */
function withBuffers(e: ScannedEntry): ScannedEntry {
  for (const x of e.xattrs ?? []) x.value = Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength);
  return e;
}
