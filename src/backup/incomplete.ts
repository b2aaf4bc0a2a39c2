// Remembers the chunks an unfinished backup uploaded (.dbk/cache/<storage>/incomplete-<id>), so
// running it again skips their encoding and upload. Such a chunk is still stat'ed on the storage
// before it is trusted: a prune may have removed leftovers of the interrupted run meanwhile.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChunkId } from '../format/ids.js';

export class IncompleteBackup {
  private readonly file: string;
  private pending: string[] = [];

  constructor(cacheDir: string, snapshotId: string) {
    this.file = path.join(cacheDir, `incomplete-${snapshotId}`);
  }

  /** Chunk ids uploaded by an earlier, interrupted run. */
  load(): Set<ChunkId> {
    try {
      const text = fs.readFileSync(this.file, 'utf8');
      return new Set(text.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l)) as ChunkId[]);
    } catch {
      return new Set();
    }
  }

  add(id: ChunkId): void {
    this.pending.push(id);
    if (this.pending.length >= 16) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.appendFileSync(this.file, `${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  /** The backup finished: its revision now references every chunk it uploaded. */
  clear(): void {
    this.pending = [];
    fs.rmSync(this.file, { force: true });
  }
}
