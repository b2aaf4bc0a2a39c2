// Runs torture schedules one after another on a local or SFTP storage and adds up what they did.
// Each schedule works in a folder of its own, removed afterwards unless something went wrong.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type Sshd, startSshd } from '../support/sshd.js';
import { emptyTally, Schedule, type StorageSpec, type Tally } from './schedule.js';

export interface TortureOptions {
  trials: number;
  seed: number;
  steps: number;
  storage: 'local' | 'sftp';
  /** told of each schedule as it ends */
  onSchedule?: (t: Tally) => void;
}

export interface TortureResult extends Tally {
  storage: string;
  seconds: number;
  /** folders of failed schedules, kept for a look */
  kept: string[];
}

export async function runTorture(o: TortureOptions): Promise<TortureResult> {
  const started = Date.now();
  const tally = emptyTally();
  const kept: string[] = [];
  let sshd: Sshd | undefined;
  const saved = process.env.DBK_SSH_KEY_FILE;
  try {
    let storage: StorageSpec = { kind: 'local', url: (dir) => dir };
    if (o.storage === 'sftp') {
      const server = (sshd = await startSshd());
      process.env.DBK_SSH_KEY_FILE = server.userKey.privateKeyFile; // every storage of the schedules is 'default'
      storage = { kind: 'sftp', url: (dir) => `sftp://${server.user}@${server.host}:${server.port}/${dir}` };
    }
    for (let i = 0; i < o.trials; i++) {
      const root = fs.mkdtempSync(path.join(tmpdir(), `dbk-torture-${o.seed + i}-`));
      const failuresBefore = tally.failures.length;
      const lostBefore = tally.lost.size;
      try {
        await new Schedule(o.seed + i, root, storage, tally).run(o.steps);
      } catch (e) {
        tally.failures.push(`seed ${o.seed + i}: the harness itself failed: ${(e as Error).stack}`);
      }
      if (tally.failures.length > failuresBefore || tally.lost.size > lostBefore) kept.push(root);
      else fs.rmSync(root, { recursive: true, force: true });
      o.onSchedule?.(tally);
    }
  } finally {
    if (saved === undefined) delete process.env.DBK_SSH_KEY_FILE;
    else process.env.DBK_SSH_KEY_FILE = saved;
    await sshd?.close();
  }
  return { ...tally, storage: o.storage, seconds: (Date.now() - started) / 1000, kept };
}

/** The one line the harness prints. */
export function summaryLine(r: TortureResult, seed: number): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `torture (${r.storage}, seed ${seed}): ${n(r.schedules)} schedules, ${n(r.steps)} steps, ${n(r.kills)} kills, ` +
    `${n(r.holdsAcrossPrunes)} holds across prunes (${n(r.holds)} holds), ${n(r.chunksChecked)} chunks checked, ` +
    `${n(r.restored)} revisions restored byte for byte, ${n(r.lost.size)} chunks lost, ${n(r.failures.length)} failures, ${(r.seconds / 60).toFixed(1)} min`
  );
}
