// The new revision's file list, written as the backup goes: entries wait here in scan order
// until their content is known (an unchanged file's at once, a file read once the stream has cut
// the chunk its last byte is in), then each gets its range in the chunk sequence, is encoded and
// goes out in metadata chunks. Memory is the entries waiting, not the tree.

import { DbkError } from '../errors.js';
import { Fifo } from '../fifo.js';
import type { ChunkRange, FileEntry } from '../format/file-list.js';
import { FileListEncoder } from '../format/file-list.js';
import type { ChunkHash } from '../format/ids.js';
import { MAX_FILE_LIST_BYTES } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';
import { SequenceWriter } from '../storage/sequence-writer.js';
import type { ScannedEntry, ScanProblem } from '../tree/scanner.js';
import type { ChunkSequenceBuilder } from './chunk-sequence.js';

export type BackupEntry = FileEntry & ScannedEntry;

/** An entry on its way into the file list. */
export interface Waiting {
  entry: BackupEntry;
  /** an unchanged file: its range in the previous revision */
  previous?: ChunkRange;
  /** a file being read: where its bytes are in the stream once read, or that it could not be */
  read?: { done: boolean; dropped: boolean; start: number; end: number };
  /** a later name of a hard-linked file: it takes its first name's content */
  laterName?: boolean;
}

/** Encoded bytes that go out as one write. */
const WRITE_BYTES = 1 << 20;

export class FileListWriter {
  private readonly waiting = new Fifo<Waiting>();
  private readonly encoder = new FileListEncoder();
  private readonly sequenceWriter: SequenceWriter;
  /** hard-link groups: the first name's entry as written, and its index in the list */
  private readonly firstNames = new Map<string, { entry: BackupEntry; index: number }>();
  private shorter: { below: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: { e: unknown } | undefined;
  /** files written and their bytes */
  files = 0;
  bytes = 0;
  readonly problems: ScanProblem[] = [];

  constructor(
    repo: Repository,
    private readonly sequence: ChunkSequenceBuilder,
    dryRun: boolean,
  ) {
    this.sequenceWriter = new SequenceWriter(repo, dryRun);
  }

  add(w: Waiting): void {
    this.waiting.push(w);
  }

  /** Entries not written yet. */
  get length(): number {
    return this.waiting.length;
  }

  /** Resolves once fewer than `below` entries wait; rejects once the backup has failed. */
  async shorterThan(below: number): Promise<void> {
    if (this.failure) throw this.failure.e;
    if (this.length < below) return;
    await new Promise<void>((resolve, reject) => this.shorter.push({ below, resolve, reject }));
  }

  /** The backup failed: nobody waits for entries to be written any more. */
  fail(e: unknown): void {
    this.failure ??= { e };
    for (const s of this.shorter) s.reject(e);
    this.shorter = [];
  }

  /**
   * Writes the entries at the head whose content is known; a promise only where that filled a
   * write, to await (this runs for every file a backup reads, and a promise each was garbage).
   */
  flush(): Promise<void> | undefined {
    for (let w = this.waiting.peek(); w && !(w.read && !w.read.done); w = this.waiting.peek()) {
      this.waiting.shift();
      this.write(w);
    }
    if (this.shorter.length > 0) this.shorter = this.shorter.filter((s) => (this.length < s.below ? void s.resolve() : true));
    return this.encoder.pending >= WRITE_BYTES ? this.send() : undefined;
  }

  /** The file list's metadata chunks and size, once every entry is written. */
  async finish(): Promise<{ hashes: ChunkHash[]; bytes: number }> {
    await this.flush();
    if (this.length > 0) throw new Error(`${this.length} file list entries still wait for their content`);
    await this.send();
    return { hashes: await this.sequenceWriter.finish(), bytes: this.sequenceWriter.bytes };
  }

  private async send(): Promise<void> {
    if (this.sequenceWriter.bytes + this.encoder.pending > MAX_FILE_LIST_BYTES) {
      throw new DbkError('USAGE', `too much for one revision: readers refuse file lists over ${MAX_FILE_LIST_BYTES >> 20} MiB (${this.encoder.count} entries so far)`, {
        hint: 'back up the tree as several repositories, or exclude part of it in .dbk/filters',
      });
    }
    await this.sequenceWriter.write(this.encoder.take());
  }

  private write(w: Waiting): void {
    const e = w.entry;
    if (w.read?.dropped) return; // its problem is reported where the read failed
    if (w.laterName && !this.takeFirstName(e)) return;
    if (w.previous) e.range = this.sequence.reuse(w.previous);
    else if (w.read && w.read.end > w.read.start) e.range = this.sequence.addStreamRange(w.read.start, w.read.end);
    if (e.inode !== undefined && !w.laterName) this.firstNames.set(e.inode, { entry: e, index: this.encoder.count });
    this.encoder.add(e);
    if (e.type === 'file') {
      this.files++;
      this.bytes += e.size;
    }
  }

  /** Gives a later name of a hard-linked file its first name's content; false when the first could not be read. */
  private takeFirstName(e: BackupEntry): boolean {
    const first = this.firstNames.get(e.inode!);
    if (!first) {
      this.problems.push({ path: e.path, reason: 'a hard link of a file that could not be read' });
      return false;
    }
    e.size = first.entry.size;
    e.hash = first.entry.hash!;
    if (first.entry.range) e.range = first.entry.range;
    e.linkOf = first.index;
    return true;
  }
}
