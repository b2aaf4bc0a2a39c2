// Clients of one shared storage for the check and prune tests: a repository per snapshot id,
// each with its own cache (as separate machines have), tiny chunks so a few KiB of files make
// many, and helpers to edit the tree and back it up. Built on the engine test support.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupAnnouncement, runningPath } from '../../src/catalog/running-backups.js';
import { type BackupResult, backup } from '../../src/commands/backup.js';
import { joinRepo, put, type TestRepo, withRepository } from './engine.js';
import type { Random } from './seeded-random.js';

export interface Client extends TestRepo {
  snapshotId: string;
  /** the repository folder (holding .dbk/) */
  dir: string;
  write(rel: string, content: string | Buffer): void;
  remove(rel: string): void;
  backup(tag?: string): Promise<BackupResult>;
  /**
   * Announces a backup of this client on the storage, as a running backup does, with this
   * process as its own (alive): call the result when that backup "finishes".
   */
  announce(): Promise<() => Promise<void>>;
}

export async function makeClient(root: string, snapshotId: string, storageDir: string): Promise<Client> {
  const dir = path.join(root, snapshotId);
  fs.mkdirSync(dir, { recursive: true });
  const repo = await joinRepo({ storageDir, encrypted: false }, { snapshotId, chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096 }, dir);
  return {
    ...repo,
    snapshotId,
    dir,
    write: (rel, content) => put(dir, rel, content),
    remove: (rel) => fs.rmSync(path.join(dir, rel), { force: true }),
    backup: (tag) => backup({ ...repo.open, ...(tag ? { tag } : {}) }),
    announce: () =>
      withRepository(repo, async (r) => {
        const a = await BackupAnnouncement.announce(r, snapshotId);
        return () => withRepository(repo, (again) => again.backend.delete(runningPath(a.name)));
      }),
  };
}

/** A few files of random bytes, so that content differs between files and revisions. */
export function randomFiles(client: Client, rnd: Random, count: number, size = 3000): void {
  for (let i = 0; i < count; i++) client.write(`f${rnd.int(1000)}.bin`, rnd.bytes(size));
}
