// The scale fixture: a repository folder and a local storage shaped like a large, long-lived
// backup set, made quickly through dbk's own formats without reading any files:
//   npm run --silent fixture:scale -- --out DIR --chunks N --revisions R --ids K --refs M [--churn F] [--seed S]
// N chunk files (tiny, valid chunk objects: each a 16-byte plaintext under its real id), K snapshot
// ids with R revisions in all, each revision of an id one day after the one before (the newest an
// hour ago), each referencing about M chunks, with a fraction F (default 0.01) replaced from one
// revision to the next in contiguous runs, as edits are. Revisions and their metadata sequences
// (file list, chunk hashes, chunk lengths) are written by dbk's Repository; chunk files go
// straight to disk (through dbk's object encoder) because a million fsync'ed uploads would take
// hours. The storage is named `default`, so DBK_<KEY> settings apply to it. Nothing is cached.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init } from '../src/commands/init.js';
import type { FileEntry } from '../src/format/file-list.js';
import { encodeFileList } from '../src/format/file-list.js';
import { type ChunkHash, chunkPath, HASH_BYTES } from '../src/format/ids.js';
import { encodeObject, ObjectKind } from '../src/format/object.js';
import { DAY_MS } from '../src/prune/retention.js';
import { Repository } from '../src/storage/repository.js';

export interface ScaleShape {
  chunks: number;
  revisions: number;
  ids: number;
  refs: number;
  churn: number;
  seed: number;
}

/**
 * The benchmarked shapes. M: a large, long-lived backup set. L: four times M in chunks and in
 * references, the size of the storage this project started from. S: a tenth of M in every stored
 * quantity (chunks, and references: revisions × refs), with the same history of 1,000 revisions.
 */
export const SHAPES: Record<string, ScaleShape> = {
  L: { chunks: 4_000_000, revisions: 1000, ids: 7, refs: 400_000, churn: 0.01, seed: 1 },
  M: { chunks: 1_000_000, revisions: 1000, ids: 7, refs: 100_000, churn: 0.01, seed: 1 },
  S: { chunks: 100_000, revisions: 1000, ids: 7, refs: 10_000, churn: 0.01, seed: 1 },
};

const CONTENT_BYTES = 16;
/** chunks per file in the generated file lists */
const FILE_CHUNKS = 100;

/** The plaintext of pool chunk i: unique, tiny. */
function content(i: number): Buffer {
  const b = Buffer.alloc(CONTENT_BYTES, 0x5c);
  b.writeUInt32LE(i >>> 0, 0);
  return b;
}

export async function makeScaleFixture(out: string, shape: ScaleShape, report: (line: string) => void = () => {}): Promise<{ repoDir: string; storage: string }> {
  const repoDir = path.join(out, 'repo');
  const storage = path.join(out, 'storage');
  if (fs.existsSync(storage)) throw new Error(`${storage} exists already: choose an empty --out`);
  fs.mkdirSync(repoDir, { recursive: true });
  await init({ repoDir, snapshotId: 'id0', storageUrl: storage, chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096 });
  process.env.DBK_FSYNC = 'false'; // the fixture can be made again; a crash-proof storage is not needed
  const repo = await Repository.open({ repoDir, threads: 8 });
  try {
    const started = Date.now();
    const hashes = writeChunkPool(repo, storage, shape.chunks);
    report(`${shape.chunks} chunk files in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const perId = Array.from({ length: shape.ids }, (_, k) => Math.floor(shape.revisions / shape.ids) + (k < shape.revisions % shape.ids ? 1 : 0));
    const pool = new ChunkCursor(shape);
    let done = 0;
    await Promise.all(
      perId.map(async (count, k) => {
        const rnd = mulberry32(shape.seed * 1000 + k);
        const seq = pool.initial(k);
        for (let j = 0; j < count; j++) {
          if (j > 0) pool.churn(seq, rnd);
          const startTime = Date.now() - 3600_000 - (count - 1 - j) * DAY_MS;
          await writeRevision(repo, `id${k}`, j + 1, startTime, seq, hashes);
          if (++done % 50 === 0) report(`${done}/${shape.revisions} revisions written`);
        }
      }),
    );
    report(`fixture ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await repo.close();
  }
  return { repoDir, storage };
}

/** Writes every pool chunk as a chunk object under its id; returns their hashes, 32 bytes each. */
function writeChunkPool(repo: Repository, storage: string, n: number): Buffer {
  const hashes = Buffer.allocUnsafe(n * HASH_BYTES);
  for (let d = 0; d < 256; d++) fs.mkdirSync(path.join(storage, 'chunks', d.toString(16).padStart(2, '0')), { recursive: true });
  for (let i = 0; i < n; i++) {
    const plain = content(i);
    const hash = repo.hashOf(plain);
    hashes.write(hash, i * HASH_BYTES, 'hex');
    const encoded = encodeObject(plain, { kind: ObjectKind.CHUNK, compressionLevel: 0 });
    fs.writeFileSync(path.join(storage, chunkPath(repo.chunkId(hash))), encoded);
  }
  return hashes;
}

/** Hands out pool chunks: each id's first revision, then fresh chunks for edits, wrapping around the pool. */
class ChunkCursor {
  private next: number;
  private readonly stride: number;

  constructor(private readonly shape: ScaleShape) {
    // ids start from overlapping regions when the pool is too small for all of them to be distinct
    const spare = shape.chunks - shape.refs - shape.revisions * shape.churn * shape.refs;
    this.stride = Math.max(0, Math.min(shape.refs, Math.floor(spare / Math.max(1, shape.ids - 1))));
    this.next = (shape.ids - 1) * this.stride + shape.refs;
  }

  initial(k: number): Int32Array {
    return Int32Array.from({ length: this.shape.refs }, (_, j) => (k * this.stride + j) % this.shape.chunks);
  }

  /** Replaces a fraction of the sequence in about ten contiguous runs. */
  churn(seq: Int32Array, rnd: () => number): void {
    const replaced = Math.max(1, Math.round(seq.length * this.shape.churn));
    const run = Math.max(1, Math.round(replaced / 10));
    for (let left = replaced; left > 0; left -= run) {
      const at = Math.floor(rnd() * Math.max(1, seq.length - run));
      for (let i = at; i < Math.min(seq.length, at + Math.min(run, left)); i++) {
        seq[i] = this.next;
        this.next = (this.next + 1) % this.shape.chunks;
      }
    }
  }
}

async function writeRevision(repo: Repository, snapshotId: string, revision: number, startTime: number, seq: Int32Array, pool: Buffer): Promise<void> {
  const hashes = Buffer.allocUnsafe(seq.length * HASH_BYTES);
  const lengths = Buffer.allocUnsafe(seq.length * 4);
  seq.forEach((c, i) => {
    pool.copy(hashes, i * HASH_BYTES, c * HASH_BYTES, (c + 1) * HASH_BYTES);
    lengths.writeUInt32LE(CONTENT_BYTES, i * 4);
  });
  const files = fileList(seq, startTime);
  const list = encodeFileList(files);
  const [fileSeq, hashSeq, lengthSeq] = await Promise.all([repo.writeSequence(list), repo.writeSequence(hashes), repo.writeSequence(lengths)]);
  await repo.saveRevision({
    snapshotId,
    revision,
    startTime,
    endTime: startTime + 60_000,
    tag: '',
    fileCount: files.length,
    fileBytes: seq.length * CONTENT_BYTES,
    chunkCount: seq.length,
    fileListBytes: list.length,
    options: { host: 'scale-fixture' },
    sequences: { files: fileSeq, chunkHashes: hashSeq as ChunkHash[], chunkLengths: lengthSeq },
  });
}

/** One file per FILE_CHUNKS chunks, with its real SHA-256, so check -files works on the fixture. */
function fileList(seq: Int32Array, mtimeMs: number): FileEntry[] {
  const files: FileEntry[] = [];
  for (let start = 0, f = 0; start < seq.length; start += FILE_CHUNKS, f++) {
    const end = Math.min(seq.length, start + FILE_CHUNKS) - 1;
    const sha = createHash('sha256');
    for (let i = start; i <= end; i++) sha.update(content(seq[i]!));
    files.push({
      path: `d${Math.floor(f / 256)}/f${f}`,
      type: 'file',
      mode: 0o644,
      mtimeS: Math.floor(mtimeMs / 1000),
      mtimeNs: 0,
      size: (end - start + 1) * CONTENT_BYTES,
      uid: 0,
      gid: 0,
      range: { startChunk: start, startOffset: 0, endChunk: end, endOffset: CONTENT_BYTES },
      hash: sha.digest(),
    });
  }
  return files;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parseArgs(argv: string[]): { out: string; shape: ScaleShape } {
  const get = (name: string, fallback?: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : fallback;
    if (v === undefined) throw new Error(`--${name} is required (usage: --out DIR --chunks N --revisions R --ids K --refs M [--churn F] [--seed S])`);
    return v;
  };
  const num = (name: string, fallback?: string) => {
    const n = Number(get(name, fallback));
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number`);
    return n;
  };
  const shape = { chunks: num('chunks'), revisions: num('revisions'), ids: num('ids'), refs: num('refs'), churn: num('churn', '0.01'), seed: num('seed', '1') };
  if (shape.ids < 1 || shape.refs < 1 || shape.chunks < shape.refs || shape.revisions < shape.ids) {
    throw new Error('need ids ≥ 1, refs ≥ 1, chunks ≥ refs and revisions ≥ ids');
  }
  return { out: path.resolve(get('out')), shape };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { out, shape } = parseArgs(process.argv.slice(2));
  await makeScaleFixture(out, shape, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${path.join(out, 'repo')}\n`);
}
