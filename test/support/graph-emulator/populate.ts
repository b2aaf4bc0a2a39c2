// Fills the emulator's drive directly (no HTTP), for benchmarks and listing tests: with
// chunk-shaped entries (chunks/<2 hex>/<62 hex>, spread evenly over the 256 prefix folders), or
// with a copy of a local folder tree (a storage made on disk, e.g. the scale fixture's).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Drive, DriveItem } from './drive.js';

/** The path (below the storage root) of the i-th fake chunk. */
export function chunkPath(i: number): string {
  const id = createHash('sha256').update(`chunk ${i}`).digest('hex');
  return `chunks/${id.slice(0, 2)}/${id.slice(2)}`;
}

/** Adds `count` fake chunks below `<root>/chunks/`, all sharing one `content` buffer. */
export function populateChunks(drive: Drive, root: string, count: number, content: Buffer = Buffer.alloc(1024)): void {
  const folders = new Map<string, DriveItem>();
  for (let i = 0; i < count; i++) {
    const [, prefix, name] = chunkPath(i).split('/') as [string, string, string];
    let folder = folders.get(prefix);
    if (!folder) {
      folder = drive.mkdirs(`${root}/chunks/${prefix}`);
      folders.set(prefix, folder);
    }
    drive.putFile(folder, name, content, 'replace');
  }
}

/** Copies the files below the local folder `dir` to `<root>/` on the drive; returns how many. */
export function seedFromDir(drive: Drive, root: string, dir: string): number {
  let files = 0;
  const walk = (local: string, folder: DriveItem) => {
    for (const entry of readdirSync(local, { withFileTypes: true })) {
      const from = path.join(local, entry.name);
      if (entry.isDirectory()) walk(from, drive.child(folder, entry.name) ?? drive.createFolder(folder, entry.name, 'fail')!);
      else if (entry.isFile()) {
        drive.putFile(folder, entry.name, readFileSync(from), 'replace');
        files++;
      }
    }
  };
  walk(dir, drive.mkdirs(root));
  return files;
}
