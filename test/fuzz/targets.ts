// What the fuzzer feeds: every decoder of what dbk reads from a storage or its cache, each with
// valid inputs to mutate and the call that decodes one. A decoder passes a case by returning or
// by throwing a DbkError; anything else escapes.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openMemoryCacheDb } from '../../cache/cache-db.js';
import { ChunkDictionary } from '../../cache/chunk-dictionary.js';
import { type ChunkListing, loadChunkListing } from '../../cache/chunk-list-cache.js';
import { decodeIntSet, encodeIntSet, toIntSet } from '../../cache/int-sets.js';
import { init } from '../../src/commands/init.js';
import { newKdfParams, newStorageKeys } from '../../src/crypto/keys.js';
import { decodeAnnouncement, encodeAnnouncement } from '../../src/format/announcement.js';
import { decodeConfig, encodeConfig, type StorageConfig } from '../../src/format/config.js';
import { decodeFileList, encodeFileList, entryProblem, type FileEntry } from '../../src/format/file-list.js';
import { decodeFossilRecord, encodeFossilRecord } from '../../src/format/fossil-collection.js';
import type { ChunkHash, ChunkId } from '../../src/format/ids.js';
import { decodeObject, encodeObject, ObjectKind } from '../../src/format/object.js';
import { decodeRevision, encodeRevision, type Revision } from '../../src/format/revision.js';
import { silentLogger } from '../../src/log.js';
import type { Random } from '../../src/seeded-random.js';
import { readPreferences, writePreferences } from '../../src/storage/preferences.js';
import { Repository } from '../../src/storage/repository.js';
import { mutate } from './mutate.js';

export interface Target {
  name: string;
  /** one input, valid or damaged */
  make(rnd: Random): Buffer;
  decode(input: Buffer): unknown;
  close?(): Promise<void>;
}

/** Mutates one of the samples (now and then leaves it whole: a valid input must decode). */
function fromSamples(samples: Buffer[]): (rnd: Random) => Buffer {
  return (rnd) => {
    const sample = rnd.pick(samples);
    return rnd.int(50) === 0 ? sample : mutate(sample, rnd, rnd.pick(samples));
  };
}

const text = Buffer.from('all work and no play makes a dull backup\n'.repeat(300));
const hashes = (n: number) => Array.from({ length: n }, () => randomBytes(32).toString('hex') as ChunkHash);

function objectTarget(): Target {
  const key = randomBytes(32);
  const kinds = Object.values(ObjectKind);
  const samples: Buffer[] = [];
  for (const kind of kinds) {
    for (const k of [undefined, key]) {
      for (const data of [text, randomBytes(3000), Buffer.alloc(0), Buffer.alloc(70_000)]) {
        for (const level of [0, 3]) samples.push(Buffer.concat([Buffer.from([kind, k ? 1 : 0]), encodeObject(data, { kind, compressionLevel: level, ...(k ? { key: k } : {}) })]));
      }
    }
  }
  return {
    name: 'object envelope',
    make: (rnd) => {
      const s = rnd.pick(samples);
      return rnd.int(50) === 0 ? s : Buffer.concat([s.subarray(0, 2), mutate(s.subarray(2), rnd, rnd.pick(samples).subarray(2))]);
    },
    // the first two bytes say what the reader expects: kind, and whether the storage is encrypted
    decode: (input) => decodeObject(input.subarray(2), { kind: input[0] as ObjectKind, maxLength: 1 << 20, what: 'fuzzed object', ...(input[1] ? { key } : {}) }),
  };
}

async function configTarget(): Promise<Target> {
  const config = (encrypted: boolean): StorageConfig => ({
    chunkSizes: { average: 1 << 20, minimum: 1 << 18, maximum: 1 << 22 },
    metadataChunkSizes: { average: 1 << 16, minimum: 1 << 14, maximum: 1 << 18 },
    compressionLevel: 1,
    keys: newStorageKeys(encrypted),
    encrypted,
  });
  const plain = await encodeConfig(config(false));
  const unchecked = Buffer.concat([Buffer.from('DBKC'), Buffer.from([1, 0]), plain.subarray(6, plain.length - 32)]);
  const sealed = await encodeConfig(config(true), { password: 'pw', kdf: newKdfParams(10) });
  return { name: 'config', make: fromSamples([plain, unchecked, sealed]), decode: (input) => decodeConfig(input, 'pw') };
}

function revisionSample(): Revision {
  return {
    snapshotId: 'host-1',
    revision: 7,
    startTime: 1_700_000_000_000,
    endTime: 1_700_000_060_000,
    tag: 'nightly',
    fileCount: 12,
    fileBytes: 123_456,
    chunkCount: 30,
    fileListBytes: 900,
    options: { host: 'box' },
    sequences: { files: hashes(2), chunkHashes: hashes(1), chunkLengths: hashes(1) },
  };
}

function revisionTarget(): Target {
  const r = revisionSample();
  const v1 = { ...JSON.parse(encodeRevision(r).toString()), version: 1, fileListBytes: undefined };
  return { name: 'revision', make: fromSamples([encodeRevision(r), Buffer.from(JSON.stringify(v1))]), decode: (input) => decodeRevision(input) };
}

const sampleEntries = (): FileEntry[] => [
  { path: 'docs', type: 'dir', mode: 0o755, mtimeS: 1_700_000_000, mtimeNs: 123_500_000, size: 0, uid: 1000, gid: 1000 },
  {
    path: 'docs/a.txt',
    type: 'file',
    mode: 0o644,
    mtimeS: 1_700_000_000,
    mtimeNs: 0,
    size: 150,
    uid: 1000,
    gid: 1000,
    range: { startChunk: 0, startOffset: 0, endChunk: 1, endOffset: 50 },
    hash: randomBytes(32),
  },
  { path: 'docs/empty', type: 'file', mode: 0o600, mtimeS: 0, mtimeNs: 0, size: 0, uid: 0, gid: 0 },
  { path: 'docs/link', type: 'symlink', mode: 0o777, mtimeS: -1, mtimeNs: 999_999_999, size: 0, uid: 1, gid: 2, target: '../elsewhere' },
  { path: 'big', type: 'file', mode: 0o4755, mtimeS: 2, mtimeNs: 5, size: 250, uid: 0, gid: 0, range: { startChunk: 1, startOffset: 50, endChunk: 3, endOffset: 100 }, hash: randomBytes(32) },
  // version 2's additions: bytes that are not UTF-8, special files, a hard link, owner names, extended attributes
  { path: 'bad\udcff', type: 'fifo', mode: 0o600, mtimeS: 3, mtimeNs: 0, size: 0, uid: 0, gid: 0, user: 'root', group: 'wheel' },
  { path: 'null', type: 'chardev', mode: 0o666, mtimeS: 3, mtimeNs: 0, size: 0, uid: 0, gid: 0, rdev: 259 },
  {
    path: 'big2',
    type: 'file',
    mode: 0o644,
    mtimeS: 2,
    mtimeNs: 5,
    size: 250,
    uid: 0,
    gid: 0,
    range: { startChunk: 1, startOffset: 50, endChunk: 3, endOffset: 100 },
    hash: randomBytes(32),
    linkOf: 4,
  },
  { path: 'x', type: 'dir', mode: 0o755, mtimeS: 3, mtimeNs: 0, size: 0, uid: 0, gid: 0, xattrs: [{ name: 'user.a', value: Buffer.from([1, 2, 3]) }] },
];

function fileListTarget(): Target {
  const lengths = [100, 100, 100, 100];
  return {
    name: 'file list',
    make: fromSamples([encodeFileList(sampleEntries()), encodeFileList(sampleEntries().slice(1, 3))]),
    decode: (input) => decodeFileList(input, lengths.length).map((e) => entryProblem(e, lengths)),
  };
}

function recordTarget(): Target {
  const ids = () => hashes(5) as unknown as ChunkId[];
  const latest = [{ snapshotId: 'docs', revision: 12 }];
  const samples = [
    encodeFossilRecord({ kind: 'collection', time: 1_700_000_000_000, latest, deletedRevisions: latest, fossils: ids(), running: ['0123456789abcdef'] }),
    encodeFossilRecord({ kind: 'deletion', time: 1_700_000_000_000, latest, deletedRevisions: [], completes: '1700000000000-ab12cd34', deleted: ids(), resurrected: ids() }),
  ];
  const v1 = Buffer.from(samples[0]!.subarray(0, samples[0]!.length - 18));
  v1[0] = 1;
  return { name: 'fossil record', make: fromSamples([...samples, v1]), decode: (input) => decodeFossilRecord(input) };
}

function announcementTarget(): Target {
  const sample = encodeAnnouncement({ snapshotId: 'laptop', host: 'box.example', client: 'f'.repeat(32), pid: 4242, startTime: 1_700_000_000_000 });
  return { name: 'announcement', make: fromSamples([sample]), decode: (input) => decodeAnnouncement(input) };
}

/**
 * The cached chunk list as loaded from SQLite: its three blobs, damaged, put in a cache whose
 * dictionary holds one page of ids, then loaded.
 */
function chunkListTarget(): Target {
  const db = openMemoryCacheDb(silentLogger);
  ChunkDictionary.load(db).intern(randomBytes(100 * 32));
  const sizes = Buffer.from(new Uint32Array([10, 0xffffffff, 20, 30, 40]).buffer);
  const fossils = encodeIntSet(toIntSet([1, 6, 90]));
  const fossilSizes = Buffer.from(new Uint32Array([5, 6, 7]).buffer);
  const pack = (parts: Buffer[]) => Buffer.concat(parts.flatMap((p) => [Buffer.from(new Uint32Array([p.length]).buffer), p]));
  const sample = pack([sizes, fossils, fossilSizes]);
  const unpack = (input: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let at = 0;
    for (let i = 0; i < 3; i++) {
      const n = at + 4 <= input.length ? Math.min(input.readUInt32LE(at), input.length - at - 4) : 0;
      out.push(input.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    return out;
  };
  const insert = db.prepare('INSERT OR REPLACE INTO chunk_list (slot, listed_at, sizes, fossils, fossil_sizes) VALUES (1, 0, ?, ?, ?)');
  return {
    name: 'chunk-list cache',
    make: fromSamples([sample]),
    decode: (input): ChunkListing | undefined => {
      const [s, f, fs] = unpack(input);
      decodeIntSet(f!, 'fuzzed int set');
      insert.run(s, f, fs);
      return loadChunkListing(db);
    },
    close: async () => void db.close(),
  };
}

/**
 * Metadata sequences, read through a repository on a local storage: a revision whose lists of
 * metadata chunks are damaged (repeated up to 500,000 times, swapped, cut, made up) or whose
 * counts and declared sizes lie, over real metadata chunks of a few thousand entries.
 */
async function sequenceTarget(dir: string): Promise<Target> {
  fs.mkdirSync(dir, { recursive: true });
  await init({ repoDir: dir, snapshotId: 'fuzz', storageUrl: path.join(dir, 'storage'), kdfLogN: 10 });
  const prefs = readPreferences(dir); // no flush per file: this is about decoding, not power cuts
  writePreferences(dir, { ...prefs, storages: prefs.storages.map((st) => ({ ...st, settings: { fsync: 'false' } })) });
  const repo = await Repository.open({ repoDir: dir, threads: 4 });
  const entries = Array.from({ length: 3000 }, (_, i) => ({ ...sampleEntries()[1]!, path: `folder/file-${i}.txt`, range: { startChunk: i, startOffset: 0, endChunk: i, endOffset: 150 } }));
  const list = encodeFileList(entries);
  const chunkCount = 3000;
  const lengths = Buffer.alloc(chunkCount * 4);
  for (let i = 0; i < chunkCount; i++) lengths.writeUInt32LE(150, i * 4);
  const base: Revision = {
    ...revisionSample(),
    snapshotId: 'fuzz',
    chunkCount,
    fileListBytes: list.length,
    sequences: {
      files: await repo.writeSequence(list),
      chunkHashes: await repo.writeSequence(randomBytes(chunkCount * 32)),
      chunkLengths: await repo.writeSequence(lengths),
    },
  };
  let number = 0;
  const structured = (rnd: Random): Revision => {
    const r: Revision = JSON.parse(JSON.stringify(base)) as Revision;
    const s = r.sequences;
    const names = ['files', 'chunkHashes', 'chunkLengths'] as const;
    const lists = [s.files, s.chunkHashes, s.chunkLengths];
    switch (rnd.int(6)) {
      case 0: {
        // one metadata chunk named many times: the bomb of a few bytes per repetition
        const name = rnd.pick(names);
        const l = s[name];
        const at = rnd.int(l.length + 1);
        const h = rnd.pick(l.length > 0 ? l : s.files);
        // 500,000 times makes a revision file over its limit; 200,000 one within it (both cost the fuzzer more than dbk)
        const times = rnd.int(2000) === 0 ? 500_000 : rnd.pick([2, 100, 5000, 5000, 5000, 200_000]);
        s[name] = [...l.slice(0, at), ...new Array<ChunkHash>(times).fill(h), ...l.slice(at)];
        break;
      }
      case 1:
        [s.files, s.chunkHashes] = [s.chunkHashes, s.files];
        break;
      case 2:
        rnd.pick(lists).splice(rnd.int(3), 1);
        break;
      case 3:
        rnd.pick(lists).push(...hashes(1 + rnd.int(3)));
        break;
      case 4:
        r.chunkCount = rnd.pick([0, 1, 2999, 3001, 2 ** 25, 2 ** 25 + 1, 2 ** 40]);
        break;
      default:
        r.fileListBytes = rnd.pick([undefined, 1, list.length - 1, list.length + 1, 1 << 30, 2 ** 31]) as number;
    }
    return r;
  };
  return {
    name: 'metadata sequences',
    make: (rnd) => {
      const r = rnd.int(10) === 0 ? base : structured(rnd);
      return Buffer.from(JSON.stringify(r));
    },
    decode: async (input) => {
      const j = JSON.parse(input.toString()) as Revision;
      const n = ++number;
      const revision = { ...j, revision: n };
      await repo.backend.write(`snapshots/fuzz/${n}`, encodeObject(encodeRevision(revision), { kind: ObjectKind.REVISION, compressionLevel: 1 }));
      try {
        const r = await repo.loadRevision('fuzz', n);
        await Promise.all([repo.readFileList(r), repo.readChunkHashes(r), repo.readChunkLengths(r)]);
      } finally {
        await repo.backend.delete(`snapshots/fuzz/${n}`);
      }
    },
    close: () => repo.close(),
  };
}

export async function allTargets(workDir: string): Promise<Target[]> {
  return [objectTarget(), await configTarget(), revisionTarget(), fileListTarget(), recordTarget(), announcementTarget(), chunkListTarget(), await sequenceTarget(path.join(workDir, 'sequences'))];
}
