// Worker thread body of a backup's walk (see walk-thread.ts): scanTree(), posting each batch once
// the main thread has room for it.

import { parentPort, workerData } from 'node:worker_threads';
import { Filters } from '../tree/filters.js';
import { Accounts } from '../tree/native-fs.js';
import { type ScanReport, scanTree } from '../tree/scanner.js';
import type { WalkInput, WalkMessage } from './walk-thread.js';

const input = workerData as WalkInput;
let room = input.ahead;
let roomMade: (() => void) | undefined;
parentPort!.on('message', () => {
  room++;
  roomMade?.();
});

const report: ScanReport = { problems: [], skipped: [] };

function post(entries: WalkMessage['entries'], done?: true): void {
  const m: WalkMessage = { entries, problems: report.problems.splice(0), skipped: report.skipped.splice(0), ...(done ? { done } : {}) };
  parentPort!.postMessage(m);
}

for await (const batch of scanTree(input.root, Filters.load(input.repoDir), { xattrs: input.xattrs, accounts: new Accounts() }, report)) {
  while (room === 0) await new Promise<void>((resolve) => (roomMade = resolve));
  room--;
  post(batch);
}
post([], true);
