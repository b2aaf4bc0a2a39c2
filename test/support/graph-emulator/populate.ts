// Fills the emulator's drive directly (no HTTP) with chunk-shaped entries, for benchmarks and
// listing tests: chunks/<2 hex>/<62 hex>, names spread evenly over the 256 prefix folders.

import { createHash } from 'node:crypto';
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
