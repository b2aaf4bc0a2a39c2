// Each file's SHA-256, computed from the chunks of the stream rather than while reading: the
// reader thread is the one a backup waits on, and the main thread has the time. The reader
// reports how many bytes each file put into the stream; those reports may come before the
// chunks that carry the bytes (small files pile up in a chunk under way) or after them (a large
// file is cut many times before it ends). Bytes past the reported files belong to the file being
// read when the chunk was cut: the reader reports every file it finished before posting a chunk.

import { createHash, type Hash } from 'node:crypto';

/** What the reader says of a file: the bytes it fed to the stream, and why it failed, if it did. */
export interface FileFed {
  fed: number;
  error?: string;
}

/** A file's outcome: its bytes in the stream, and its SHA-256 or why it failed. */
export interface FileRead extends FileFed {
  hash?: Buffer;
}

interface Open {
  report: FileFed;
  sha: Hash;
  /** bytes still to come in later chunks */
  missing: number;
}

export class StreamHasher {
  /** reported files whose bytes have not all arrived, in stream order */
  private readonly open: Open[] = [];
  /** bytes of the file being read, not reported yet */
  private next: Hash | undefined;
  private nextBytes = 0;

  /** Takes the reader's reports; returns the files now complete, in order. */
  addReports(reports: readonly FileFed[]): FileRead[] {
    for (const report of reports) {
      const sha = this.next ?? createHash('sha256');
      this.open.push({ report, sha, missing: report.fed - this.nextBytes });
      this.next = undefined;
      this.nextBytes = 0;
    }
    return this.complete();
  }

  /** Takes the stream's next chunk; returns the files now complete, in order. */
  addChunk(data: Buffer): FileRead[] {
    let pos = 0;
    for (const f of this.open) {
      if (pos === data.length) break;
      const take = Math.min(f.missing, data.length - pos);
      f.sha.update(data.subarray(pos, pos + take));
      f.missing -= take;
      pos += take;
    }
    if (pos < data.length) {
      this.next ??= createHash('sha256');
      this.next.update(data.subarray(pos));
      this.nextBytes += data.length - pos;
    }
    return this.complete();
  }

  private complete(): FileRead[] {
    const done: FileRead[] = [];
    while (this.open.length > 0 && this.open[0]!.missing === 0) {
      const { report, sha } = this.open.shift()!;
      // digest() gives each hash an ArrayBuffer of its own, ~1 KB of memory for 32 bytes; kept
      // for every file of a backup, a copy into the shared buffer pool costs a tenth of that
      done.push(report.error === undefined ? { ...report, hash: Buffer.from(sha.digest()) } : report);
    }
    return done;
  }
}
