// From revision metadata to cache numbers: reads what a revision references (its data chunks and
// the metadata chunks of its sequences) and turns the chunk hashes into dictionary numbers.
// Consecutive revisions share almost all chunks, so each hash's id (a keyed hash, ~2.5 µs) is
// computed once per process and remembered in a flat table, not once per revision.

import type { ChunkDictionary } from '../../cache/chunk-dictionary.js';
import { IdTable, KEY_BYTES } from '../../cache/id-table.js';
import { type IntSet, toIntSet } from '../../cache/int-sets.js';
import { type ChunkHash, HASH_BYTES } from '../format/ids.js';
import type { Revision } from '../format/revision.js';
import type { Repository } from '../storage/repository.js';

export class ChunkNumbering {
  private readonly hashes = new IdTable();
  /** dictionary number of each hash in `hashes`, by the hash's position there */
  private numbers = new Int32Array(1024);

  constructor(
    private readonly repo: Repository,
    readonly dictionary: ChunkDictionary,
  ) {}

  /** Dictionary numbers of the chunks whose hashes (32 bytes each) are given, in order. */
  numbersOf(hashBytes: Buffer): Int32Array {
    const n = hashBytes.length / HASH_BYTES;
    const out = new Int32Array(n);
    const missing: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.hashes.find(hashBytes, i * HASH_BYTES);
      if (k < 0) missing.push(i);
      else out[i] = this.numbers[k]!;
    }
    if (missing.length === 0) return out;
    const ids = Buffer.allocUnsafe(missing.length * KEY_BYTES);
    missing.forEach((i, j) => {
      const hash = hashBytes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES) as ChunkHash;
      ids.write(this.repo.chunkId(hash), j * KEY_BYTES, 'hex');
    });
    const numbers = this.dictionary.intern(ids);
    missing.forEach((i, j) => {
      const k = this.hashes.add(hashBytes, i * HASH_BYTES);
      if (k >= this.numbers.length) this.grow();
      this.numbers[k] = numbers[j]!;
      out[i] = numbers[j]!;
    });
    return out;
  }

  private grow(): void {
    const grown = new Int32Array(this.numbers.length * 2);
    grown.set(this.numbers);
    this.numbers = grown;
  }
}

/** Every chunk hash a revision references, 32 bytes each: metadata chunks first, then data chunks. */
export async function revisionHashBytes(repo: Repository, r: Revision): Promise<Buffer> {
  const s = r.sequences;
  const metadata = Buffer.from([...s.files, ...s.chunkHashes, ...s.chunkLengths].join(''), 'hex');
  return Buffer.concat([metadata, await repo.readChunkHashBytes(r)]);
}

export interface LoadedRevision {
  revision: Revision;
  /** dictionary numbers of every chunk it references */
  set: IntSet;
}

export async function loadRevisionChunks(repo: Repository, numbering: ChunkNumbering, snapshotId: string, revision: number): Promise<LoadedRevision> {
  const r = await repo.loadRevision(snapshotId, revision);
  return { revision: r, set: toIntSet(numbering.numbersOf(await revisionHashBytes(repo, r))) };
}
