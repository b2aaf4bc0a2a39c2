// Runs torture schedules one after another on a local, SFTP or S3 (moto_server) storage and adds up what they did.
// Each schedule works in a folder of its own, removed afterwards unless something went wrong.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MOTO_KEYS, type Moto, startMoto } from '../support/moto.js';
import { type Sshd, startSshd } from '../support/sshd.js';
import { emptyTally, Schedule, type StorageSpec, type Tally } from './schedule.js';

export interface TortureOptions {
  trials: number;
  seed: number;
  steps: number;
  storage: 'local' | 'sftp' | 's3';
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
  let moto: Moto | undefined;
  // every storage of the schedules is 'default': its keys go in DBK_<KEY>, for the clients too
  const keys: Record<string, string> = {};
  const saved = Object.fromEntries(['DBK_SSH_KEY_FILE', ...Object.keys(MOTO_KEYS).map((k) => `DBK_${k.toUpperCase()}`)].map((k) => [k, process.env[k]]));
  try {
    let storage: StorageSpec = { kind: 'local', url: (dir) => dir };
    if (o.storage === 'sftp') {
      const server = (sshd = await startSshd());
      keys.DBK_SSH_KEY_FILE = server.userKey.privateKeyFile;
      storage = { kind: 'sftp', url: (dir) => `sftp://${server.user}@${server.host}:${server.port}/${dir}` };
    }
    if (o.storage === 's3') {
      const server = (moto = await startMoto());
      const bucket = await server.newBucket();
      for (const [k, v] of Object.entries(MOTO_KEYS)) keys[`DBK_${k.toUpperCase()}`] = v;
      // each schedule's storage is the prefix named after its folder
      storage = { kind: 's3', url: (dir) => `s3+http://${server.endpoint.slice('http://'.length)}/${bucket}/${dir.replace(/^\/+/, '')}` };
    }
    Object.assign(process.env, keys);
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
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await sshd?.close();
    await moto?.close();
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
