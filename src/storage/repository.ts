// An opened storage as the commands see it: preferences, backend, config and keys, and the
// operations every command shares: chunk ids, reading and writing chunks and metadata
// sequences, and finding, loading and saving revisions.

import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Backend } from '../../backends/backend.js';
import { openBackend } from '../../backends/registry.js';
import { chunkHashOf, chunkIdOf, chunkKey as chunkKeyOf, subKey } from '../crypto/keys.js';
import { DbkError, isDbkError } from '../errors.js';
import { configIsEncrypted, decodeConfig, type StorageConfig } from '../format/config.js';
import { type FileEntry, FileListDecoder } from '../format/file-list.js';
import { type ChunkHash, type ChunkId, chunkPath, fossilPath, HASH_BYTES } from '../format/ids.js';
import { decodeObject, encodeObject, ObjectKind } from '../format/object.js';
import { decodeRevision, encodeRevision, MAX_FILE_LIST_BYTES, MAX_REVISION_BYTES, type Revision, revisionNumberOf, revisionPath } from '../format/revision.js';
import { type Logger, silentLogger } from '../log.js';
import { intSetting, makeSettings, type Settings, settingEnvNames } from '../settings.js';
import { CodecPool, type SharedSpan } from './codec-pool.js';
import { readConfigFile } from './config-file.js';
import { DBK_DIR, readPreferences, type StoragePreference, storagePreference } from './preferences.js';
import { SequenceWriter } from './sequence-writer.js';

export interface OpenOptions {
  /** the folder holding .dbk/ */
  repoDir: string;
  /** storage name from preferences; the first one when absent */
  storageName?: string;
  /** parallel storage operations; the `threads` setting, else 4 */
  threads?: number;
  log?: Logger;
  /** asked when the storage is encrypted and no password is set in the environment */
  askPassword?: (prompt: string) => Promise<string>;
  /** stops the command between steps (Ctrl-C), leaving the storage as a kill would, or better */
  signal?: AbortSignal;
}

/** Hash of a missing chunk, for readers that report which files it breaks. */
export class MissingChunkError extends DbkError {
  constructor(
    readonly hash: ChunkHash,
    readonly id: ChunkId,
  ) {
    super('MISSING_CHUNKS', `chunk ${id} is missing from the storage`, { data: { id } });
  }
}

export async function passwordFor(settings: Settings, ask?: (prompt: string) => Promise<string>): Promise<string> {
  const fromEnv = settings.get('password');
  if (fromEnv !== undefined) return fromEnv;
  if (ask) return ask(`Password for storage '${settings.storageName}': `);
  throw new DbkError('WRONG_PASSWORD', `storage '${settings.storageName}' is encrypted and no password was given`, {
    hint: `set ${settingEnvNames(settings.storageName, 'password').at(-1)}, or run on a terminal to be asked`,
  });
}

/** The snapshot ids a storage holds, sorted. */
export async function listSnapshotIds(backend: Backend): Promise<string[]> {
  const entries = await backend.list('snapshots');
  return entries
    .filter((e) => e.dir)
    .map((e) => e.name)
    .sort();
}

/** The revision numbers of a snapshot id, ascending (not those an -exclusive prune marked deleted). */
export async function listRevisions(backend: Backend, snapshotId: string): Promise<number[]> {
  const entries = await backend.list(`snapshots/${snapshotId}`);
  return entries
    .filter((e) => !e.dir && revisionNumberOf(e.name)?.deleted === false)
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

export class Repository {
  readonly chunkLimit: LimitFunction;
  private codecPool: CodecPool | undefined;
  private codecOnEveryCore = false;

  private constructor(
    readonly repoDir: string,
    /** the folder backed up and restored into: repoDir, unless init was given -repository */
    readonly rootDir: string,
    readonly preference: StoragePreference,
    readonly settings: Settings,
    readonly backend: Backend,
    readonly config: StorageConfig,
    readonly threads: number,
    readonly log: Logger,
  ) {
    this.chunkLimit = pLimit(threads);
  }

  /**
   * The folder holding .dbk/, the folder backed up, and the local cache folder of the storage,
   * known before the storage is opened.
   */
  static folders(o: Pick<OpenOptions, 'repoDir' | 'storageName'>): { repoDir: string; rootDir: string; cacheDir: string } {
    const repoDir = path.resolve(o.repoDir);
    const prefs = readPreferences(repoDir);
    const pref = storagePreference(prefs, o.storageName);
    return { repoDir, rootDir: prefs.root ?? repoDir, cacheDir: cacheDirOf(repoDir, pref.name, makeSettings(pref.name, pref.settings)) };
  }

  static async open(o: OpenOptions): Promise<Repository> {
    const repoDir = path.resolve(o.repoDir);
    const prefs = readPreferences(repoDir);
    const pref = storagePreference(prefs, o.storageName);
    const settings = makeSettings(pref.name, pref.settings);
    const threads = Math.max(1, o.threads ?? intSetting(settings, 'threads', 4));
    const log = o.log ?? silentLogger;
    const backend = await openBackend(pref.url, { settings, repoDir, threads, log });
    try {
      const config = await loadConfig(backend, settings, o.askPassword);
      return new Repository(repoDir, prefs.root ?? repoDir, pref, settings, backend, config, threads, log);
    } catch (e) {
      await backend.close();
      throw e;
    }
  }

  get storageName(): string {
    return this.preference.name;
  }

  get snapshotId(): string {
    return this.preference.snapshotId;
  }

  get cacheDir(): string {
    return cacheDirOf(this.repoDir, this.storageName, this.settings);
  }

  /** Small calls (stat, rename, delete) to keep under way at once: more than `threads` where the storage pipelines or batches them. */
  get smallCalls(): number {
    return Math.max(this.threads, this.backend.smallCallsInFlight ?? 0);
  }

  /**
   * Codec workers, made on first use: codec work is pure CPU, so never more than the cores (more
   * only add heaps and buffers waiting for GC). By default a core is left to the main thread and
   * a restore's file writer; a backup (see useAllCoresForCodec) takes one per core.
   */
  get codec(): CodecPool {
    this.codecPool ??= new CodecPool(Math.max(1, Math.min(this.threads, 4, availableParallelism() - (this.codecOnEveryCore ? 0 : 1))));
    return this.codecPool;
  }

  /**
   * A codec worker per core from now on. A backup's reader and main thread wait on compression
   * more than they work: with a second worker on two cores, /usr/lib backed up in 21–22 s, not
   * 25–27 s, for about 15 MB more memory. (A restore's second worker bought 2 s for 25–30 MB.)
   * They start now: a backup has a core to spare while it looks at the previous revision, and
   * every backup encodes at least its file list.
   */
  useAllCoresForCodec(): void {
    if (this.codecPool) throw new Error('the codec workers are running already');
    this.codecOnEveryCore = true;
    void this.codec;
  }

  hashOf(data: Uint8Array): ChunkHash {
    return chunkHashOf(this.config.keys.hashKey, data);
  }

  chunkId(hash: ChunkHash): ChunkId {
    return chunkIdOf(this.config.keys.idKey, hash);
  }

  /** Encodes (compresses, encrypts) a chunk in the codec pool. */
  encodeChunk(data: Buffer, hash: ChunkHash): Promise<Buffer> {
    return this.codec.run({ op: 'encode', data, kind: ObjectKind.CHUNK, compressionLevel: this.config.compressionLevel, ...this.keyFor(hash) }, true);
  }

  /** As encodeChunk, into shared memory of encodedBound() bytes; resolves with the object's length. */
  encodeChunkInto(data: Uint8Array, hash: ChunkHash, into: SharedSpan): Promise<number> {
    return this.codec.runInto({ op: 'encode', data, kind: ObjectKind.CHUNK, compressionLevel: this.config.compressionLevel, into, ...this.keyFor(hash) });
  }

  private keyFor(hash: ChunkHash): { key?: Uint8Array } {
    const k = this.config.keys.encryptionKey;
    return k ? { key: chunkKeyOf(k, hash) } : {};
  }

  /** Uploads an encoded chunk; an existing chunk of that id is the same content, so it counts as done. */
  async storeChunk(id: ChunkId, encoded: Buffer): Promise<boolean> {
    try {
      await this.chunkLimit(() => this.backend.write(chunkPath(id), encoded));
      return true;
    } catch (e) {
      if (isDbkError(e, 'ALREADY_EXISTS')) return false;
      throw e;
    }
  }

  /** Downloads, decodes and verifies a chunk; a fossil is read where the chunk is missing. */
  async readChunk(hash: ChunkHash, maxLength = this.config.chunkSizes.maximum): Promise<Buffer> {
    const id = this.chunkId(hash);
    const raw = await this.fetchChunk(hash, id);
    return this.decodeChunk(id, { op: 'decode', data: raw, kind: ObjectKind.CHUNK, maxLength, what: `chunk ${id}`, ...this.chunkCheck(hash) });
  }

  /** A chunk's bytes as stored, after decoding and verifying them: for copies between storages that seal alike. */
  async readStoredChunk(hash: ChunkHash, maxLength = this.config.chunkSizes.maximum): Promise<Buffer> {
    const id = this.chunkId(hash);
    const raw = await this.fetchChunk(hash, id);
    // a copy goes to the worker: the stored bytes stay here
    await this.decodeChunk(id, { op: 'decode', data: Buffer.from(raw), kind: ObjectKind.CHUNK, maxLength, what: `chunk ${id}`, ...this.chunkCheck(hash) });
    return raw;
  }

  /** As readChunk, into shared memory of exactly the chunk's length. */
  async readChunkInto(hash: ChunkHash, into: SharedSpan): Promise<void> {
    const id = this.chunkId(hash);
    const raw = await this.fetchChunk(hash, id);
    await this.decodeChunk(id, { op: 'decodeInto', data: raw, kind: ObjectKind.CHUNK, into, what: `chunk ${id}`, ...this.chunkCheck(hash) });
  }

  /** The chunk's key, and the hash its plaintext must have: the worker checks it, as that is a pass over every byte. */
  private chunkCheck(hash: ChunkHash) {
    return { verify: { hashKey: this.config.keys.hashKey, hash }, ...this.keyFor(hash) };
  }

  private decodeChunk(id: ChunkId, req: Parameters<CodecPool['run']>[0]): Promise<Buffer> {
    return this.codec.run(req, true).catch((e) => {
      // the worker's error crosses the thread boundary without data: name the chunk for the caller
      throw isDbkError(e, 'CORRUPT') ? new DbkError('CORRUPT', e.message, { data: { id } }) : e;
    });
  }

  private async fetchChunk(hash: ChunkHash, id: ChunkId): Promise<Buffer> {
    return this.chunkLimit(async () => {
      try {
        return await this.backend.read(chunkPath(id));
      } catch (e) {
        if (!isDbkError(e, 'NOT_FOUND')) throw e;
      }
      try {
        const data = await this.backend.read(fossilPath(id));
        this.log.debug(`chunk ${id} read from its fossil`);
        return data;
      } catch (e) {
        if (isDbkError(e, 'NOT_FOUND')) throw new MissingChunkError(hash, id);
        throw e;
      }
    });
  }

  /** Cuts a metadata stream into deduplicated metadata chunks and uploads the new ones. */
  async writeSequence(data: Buffer): Promise<ChunkHash[]> {
    const writer = new SequenceWriter(this);
    await writer.write(data);
    return writer.finish();
  }

  /**
   * Reads a metadata sequence of `size.exact` bytes, or of at most `size.max`: whatever its
   * revision names, nothing beyond that is read or held (one metadata chunk named 500,000 times
   * would otherwise concatenate 128 GB).
   */
  async readSequence(hashes: readonly ChunkHash[], size: { exact: number } | { max: number }, what: string): Promise<Buffer> {
    const pieces: Buffer[] = [];
    let total = 0;
    for await (const piece of this.sequencePieces(hashes, size, what)) {
      pieces.push(piece);
      total += piece.length;
    }
    return Buffer.concat(pieces, total);
  }

  /** The pieces of a metadata sequence in order, a few read ahead, with readSequence's limits. */
  async *sequencePieces(hashes: readonly ChunkHash[], size: { exact: number } | { max: number }, what: string): AsyncGenerator<Buffer> {
    const { minimum, maximum } = this.config.metadataChunkSizes;
    const limit = 'exact' in size ? size.exact : size.max;
    // every piece the chunker cuts is `minimum` bytes at least, but the last
    if (hashes.length > Math.ceil(limit / minimum) + 1) throw new DbkError('CORRUPT', `${what}: ${hashes.length} metadata chunks for at most ${limit} bytes`);
    let total = 0;
    const ahead = Math.max(4, this.threads);
    // a piece named again (runs of equal chunk lengths or hashes repeat) is read once, while it is near
    const reading = new Map<number, Promise<Buffer>>();
    const recent = new Map<ChunkHash, Promise<Buffer>>();
    const start = (i: number) => {
      const h = hashes[i]!;
      let p = recent.get(h);
      if (!p) {
        p = this.readChunk(h, maximum);
        p.catch(() => {}); // awaited in order below
        recent.set(h, p);
        if (recent.size > 4 * ahead) recent.delete(recent.keys().next().value!);
      }
      reading.set(i, p);
    };
    for (let i = 0; i < Math.min(ahead, hashes.length); i++) start(i);
    for (let i = 0; i < hashes.length; i++) {
      const piece = await reading.get(i)!;
      reading.delete(i);
      if (i + ahead < hashes.length) start(i + ahead);
      total += piece.length;
      if (total > limit) throw new DbkError('CORRUPT', `${what}: more than the ${limit} bytes it may hold`);
      yield piece;
    }
    if ('exact' in size && total !== size.exact) throw new DbkError('CORRUPT', `${what}: ${total} bytes where ${size.exact} were expected`);
  }

  listSnapshotIds(): Promise<string[]> {
    return listSnapshotIds(this.backend);
  }

  listRevisions(snapshotId: string): Promise<number[]> {
    return listRevisions(this.backend, snapshotId);
  }

  /** The highest number a revision of this id has had, also one an -exclusive prune deleted (numbers are never used twice). */
  async highestRevisionNumber(snapshotId: string): Promise<number> {
    let highest = 0;
    for (const e of await this.backend.list(`snapshots/${snapshotId}`)) highest = Math.max(highest, (!e.dir && revisionNumberOf(e.name)?.revision) || 0);
    return highest;
  }

  async loadRevision(snapshotId: string, revision: number): Promise<Revision> {
    const p = revisionPath(snapshotId, revision);
    const raw = await this.backend.read(p).catch((e) => {
      if (isDbkError(e, 'NOT_FOUND')) throw new DbkError('NOT_FOUND', `revision ${revision} of '${snapshotId}' does not exist`);
      throw e;
    });
    const plain = decodeObject(raw, { kind: ObjectKind.REVISION, maxLength: MAX_REVISION_BYTES, what: p, ...this.revisionKey() });
    const r = decodeRevision(plain);
    if (r.snapshotId !== snapshotId || r.revision !== revision) throw new DbkError('CORRUPT', `${p} names itself ${r.snapshotId}/${r.revision}`);
    return r;
  }

  /** Writes a revision file; ALREADY_EXISTS when another backup took that number first. */
  async saveRevision(r: Revision & { fileListBytes: number }): Promise<void> {
    const encoded = encodeObject(encodeRevision(r), { kind: ObjectKind.REVISION, compressionLevel: this.config.compressionLevel, ...this.revisionKey() });
    await this.backend.write(revisionPath(r.snapshotId, r.revision), encoded);
  }

  private revisionKey(): { key?: Uint8Array } {
    const k = this.config.keys.encryptionKey;
    return k ? { key: revisionKeyOf(k) } : {};
  }

  async readFileList(r: Revision): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    for await (const e of this.fileListEntries(r)) out.push(e);
    return out;
  }

  /** The entry at `path` in a revision, read through its file list without holding it. */
  async findEntry(r: Revision, path: string): Promise<FileEntry | undefined> {
    for await (const e of this.fileListEntries(r)) if (e.path === path) return e;
    return undefined;
  }

  /** A revision's file list entry by entry, read a few metadata chunks ahead: the memory of a few chunks, whatever its length. */
  async *fileListEntries(r: Revision): AsyncGenerator<FileEntry> {
    for await (const entries of this.fileListBatches(r)) yield* entries;
  }

  /**
   * The same, the entries of each metadata chunk at once: a step of an async generator costs a
   * promise, and a million of them were a tenth of a restore of tiny files.
   */
  async *fileListBatches(r: Revision): AsyncGenerator<FileEntry[]> {
    const size = r.fileListBytes === undefined ? { max: MAX_FILE_LIST_BYTES } : { exact: r.fileListBytes };
    const decoder = new FileListDecoder(r.chunkCount);
    const hashes = r.sequences.files;
    let n = 0;
    for await (const piece of this.sequencePieces(hashes, size, `file list of ${revisionPath(r.snapshotId, r.revision)}`)) {
      yield [...decoder.push(piece, ++n === hashes.length)];
    }
    if (hashes.length === 0) yield [...decoder.push(Buffer.alloc(0), true)];
  }

  /** The data chunk hashes of a revision, 32 bytes each, in sequence order. */
  readChunkHashBytes(r: Revision): Promise<Buffer> {
    return this.readSequence(r.sequences.chunkHashes, { exact: r.chunkCount * HASH_BYTES }, `chunk hashes of ${revisionPath(r.snapshotId, r.revision)}`);
  }

  async readChunkHashes(r: Revision): Promise<ChunkHash[]> {
    const data = await this.readChunkHashBytes(r);
    const out = new Array<ChunkHash>(r.chunkCount);
    for (let i = 0; i < r.chunkCount; i++) out[i] = data.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES) as ChunkHash;
    return out;
  }

  async readChunkLengths(r: Revision): Promise<number[]> {
    const data = await this.readSequence(r.sequences.chunkLengths, { exact: r.chunkCount * 4 }, `chunk lengths of ${revisionPath(r.snapshotId, r.revision)}`);
    const out = new Array<number>(r.chunkCount);
    const largest = this.config.chunkSizes.maximum;
    for (let i = 0; i < r.chunkCount; i++) {
      out[i] = data.readUInt32LE(i * 4);
      // restore sizes its ring by the largest chunk: a length beyond it is damage, found before anything is sized by it
      if (out[i]! < 1 || out[i]! > largest) throw new DbkError('CORRUPT', `chunk lengths of ${revisionPath(r.snapshotId, r.revision)}: chunk ${i} of ${out[i]} bytes, outside 1–${largest}`);
    }
    return out;
  }

  /** Every chunk a revision references: its data chunks and the metadata chunks of its sequences. */
  async revisionChunkHashes(r: Revision): Promise<ChunkHash[]> {
    const s = r.sequences;
    return [...s.files, ...s.chunkHashes, ...s.chunkLengths, ...(await this.readChunkHashes(r))];
  }

  async close(): Promise<void> {
    await this.codecPool?.close();
    await this.backend.close();
  }
}

/** Local cache folder of a storage: the `cache_dir` setting, else .dbk/cache/<storage>. */
const cacheDirOf = (repoDir: string, storageName: string, settings: Settings) => settings.get('cache_dir') ?? path.join(repoDir, DBK_DIR, 'cache', storageName);

const revisionKeyOf = (k: Uint8Array) => subKey(k, 'revision');

async function loadConfig(backend: Backend, settings: Settings, ask?: (prompt: string) => Promise<string>): Promise<StorageConfig> {
  const raw = await readConfigFile(backend);
  if (!raw) throw new DbkError('CONFIG', `no dbk storage at ${backend.location} (config is missing)`, { hint: "run 'dbk init' first" });
  return decodeConfig(raw, configIsEncrypted(raw) ? await passwordFor(settings, ask) : undefined);
}
