// Small repositories on a shared local storage for command tests: tiny chunk sizes so a few KiB
// of files make many chunks, several snapshot ids on one storage, and helpers to edit and back up.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BackupResult, backup } from '../../src/commands/backup.js';
import { init } from '../../src/commands/init.js';
import type { Random } from './seeded-random.js';

export interface TestRepo {
  dir: string;
  storage: string;
  snapshotId: string;
  write(rel: string, content: string | Buffer): void;
  remove(rel: string): void;
  backup(tag?: string): Promise<BackupResult>;
}

export async function makeRepo(root: string, snapshotId: string, storage: string, o: { encrypt?: boolean } = {}): Promise<TestRepo> {
  const dir = path.join(root, snapshotId);
  fs.mkdirSync(dir, { recursive: true });
  await init({ repoDir: dir, snapshotId, storageUrl: storage, encrypt: o.encrypt ?? false, chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096, kdfLogN: 10 });
  return {
    dir,
    storage,
    snapshotId,
    write(rel, content) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    },
    remove(rel) {
      fs.rmSync(path.join(dir, rel), { force: true });
    },
    backup: (tag) => backup({ repoDir: dir, threads: 2, ...(tag ? { tag } : {}) }),
  };
}

/** A few files of random bytes, so that content differs between files and revisions. */
export function randomFiles(repo: TestRepo, rnd: Random, count: number, size = 3000): void {
  for (let i = 0; i < count; i++) repo.write(`f${rnd.int(1000)}.bin`, rnd.bytes(size));
}

/** Every chunk file (not fossils) on a local storage, relative to it. */
export function chunkFiles(storage: string): string[] {
  const out: string[] = [];
  const root = path.join(storage, 'chunks');
  for (const d of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    for (const f of fs.readdirSync(path.join(root, d))) out.push(`chunks/${d}/${f}`);
  }
  return out.sort();
}
