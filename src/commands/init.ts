// init and add: name a storage in .dbk/preferences, and create its config, or join an existing
// one after proving the password opens it.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { openBackend } from '../../backends/registry.js';
import { newKdfParams, newStorageKeys } from '../crypto/keys.js';
import { DbkError, isDbkError, usage } from '../errors.js';
import { type ChunkSizes, configIsEncrypted, decodeConfig, encodeConfig, MAX_CHUNK_SIZE, type StorageConfig, sameChunkKeys } from '../format/config.js';
import { checkSnapshotId } from '../format/revision.js';
import { type Logger, silentLogger } from '../log.js';
import { makeSettings } from '../settings.js';
import { CONFIG_FILE, readConfigFile } from '../storage/config-file.js';
import { type Preferences, preferencesPath, readPreferences, type StoragePreference, writePreferences } from '../storage/preferences.js';
import { passwordFor, Repository } from '../storage/repository.js';

/** zstd level 1 stores about 7% more than level 3 on /usr/lib and compresses 1.8× faster */
export const DEFAULT_COMPRESSION_LEVEL = 1;

export interface InitOptions {
  repoDir: string;
  snapshotId: string;
  storageUrl: string;
  /** default: 'default' */
  storageName?: string;
  /** the folder to back up, when .dbk/ should live elsewhere (e.g. a read-only tree); init only */
  rootDir?: string;
  encrypt?: boolean;
  /** average chunk size in bytes (default 4 MiB); min and max default to a quarter and four times it */
  chunkSize?: number;
  minChunkSize?: number;
  maxChunkSize?: number;
  /** zstd level, 0 = off (default 1: within a few percent of level 3's size at nearly twice its speed) */
  compressionLevel?: number;
  /** log2 of scrypt's N (default 16); tests lower it */
  kdfLogN?: number;
  askPassword?: (prompt: string) => Promise<string>;
  log?: Logger;
}

/** add -copy: a storage whose chunks have the same ids as another's, so `dbk copy` moves them without chunking again. */
export interface CopyOf {
  /** the storage (of this repository) to copy from */
  from: string;
  /** also its encryption key, so chunk files are byte-identical and copied as they are */
  bitIdentical?: boolean;
}

export interface InitResult {
  storage: StoragePreference;
  /** false when the storage already had a config and was joined */
  created: boolean;
}

const MiB = 1 << 20;

export function chunkSizes(avg = 4 * MiB, min?: number, max?: number): ChunkSizes {
  const s = { average: avg, minimum: min ?? Math.floor(avg / 4), maximum: max ?? avg * 4 };
  if (!Number.isInteger(Math.log2(s.average))) throw usage(`the average chunk size must be a power of 2 (got ${s.average})`);
  if (s.minimum < 64 || s.minimum > s.average || s.maximum < s.average || s.maximum > MAX_CHUNK_SIZE) {
    throw usage(`chunk sizes must satisfy 64 ≤ min ≤ average ≤ max ≤ ${MAX_CHUNK_SIZE / MiB}M (got ${s.minimum}, ${s.average}, ${s.maximum})`);
  }
  return s;
}

/** dbk init: the repository's first storage. */
export async function init(o: InitOptions): Promise<InitResult> {
  if (existsSync(preferencesPath(o.repoDir))) {
    throw new DbkError('CONFIG', `${path.resolve(o.repoDir)} is already a dbk repository`, { hint: "use 'dbk add' for a further storage" });
  }
  const root = o.rootDir === undefined ? {} : { root: path.resolve(o.rootDir) };
  if (root.root !== undefined && !existsSync(root.root)) throw usage(`the folder to back up does not exist: ${root.root}`);
  return addStorage(o, { version: 1, ...root, storages: [] });
}

/** dbk add: a further storage for an existing repository. */
export async function add(o: InitOptions & { storageName: string; copyOf?: CopyOf }): Promise<InitResult> {
  const prefs = readPreferences(o.repoDir);
  if (prefs.storages.some((s) => s.name === o.storageName)) throw usage(`a storage named '${o.storageName}' already exists`);
  if (o.copyOf && !prefs.storages.some((s) => s.name === o.copyOf!.from)) throw usage(`-copy names no storage of this repository: '${o.copyOf.from}'`);
  const model = o.copyOf ? await copiedConfig(o, o.copyOf) : undefined;
  return addStorage(o, prefs, model);
}

/**
 * The config of a storage that copies `from`: its chunking and chunk keys; its own encryption key
 * (or none), unless bit-identical, which takes the source's encryption as it is.
 */
async function copiedConfig(o: InitOptions, copyOf: CopyOf): Promise<StorageConfig> {
  const source = await Repository.open({ repoDir: o.repoDir, storageName: copyOf.from, ...(o.askPassword ? { askPassword: o.askPassword } : {}), threads: 1 });
  await source.close();
  const from = source.config;
  if (copyOf.bitIdentical && o.encrypt !== undefined && o.encrypt !== from.encrypted) {
    throw usage(`-bit-identical copies the encryption of '${copyOf.from}', which is ${from.encrypted ? '' : 'not '}encrypted: ${o.encrypt ? 'drop -e' : 'give -e'}`);
  }
  // a copy of an encrypted storage is encrypted unless -bit-identical says otherwise: its chunks are not to land in the clear
  const encrypted = copyOf.bitIdentical ? from.encrypted : (o.encrypt ?? false) || from.encrypted;
  const { encryptionKey: ownKey } = newStorageKeys(encrypted);
  const encryptionKey = copyOf.bitIdentical ? from.keys.encryptionKey : ownKey;
  return { ...from, encrypted, keys: { hashKey: from.keys.hashKey, idKey: from.keys.idKey, chunkSeed: from.keys.chunkSeed, ...(encryptionKey ? { encryptionKey } : {}) } };
}

async function addStorage(o: InitOptions, prefs: Preferences, model?: StorageConfig): Promise<InitResult> {
  checkSnapshotId(o.snapshotId);
  const name = o.storageName ?? 'default';
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw usage(`bad storage name '${name}': use letters, digits, _ and -`);
  const repoDir = path.resolve(o.repoDir);
  const settings = makeSettings(name, {});
  const log = o.log ?? silentLogger;
  const backend = await openBackend(o.storageUrl, { settings, repoDir, threads: 1, log });
  let created = false;
  let encrypted = false;
  try {
    const existing = await readConfigFile(backend);
    const join = async (config: Buffer) => {
      encrypted = configIsEncrypted(config);
      const joined = await decodeConfig(config, encrypted ? await passwordFor(settings, o.askPassword) : undefined);
      if (model && !sameChunkKeys(joined.keys, model.keys)) {
        throw new DbkError('CONFIG', `the storage at ${backend.location} exists already with other chunk keys: it cannot be a copy`, { hint: 'give -copy an empty storage' });
      }
      log.info(`joined the existing storage at ${backend.location}`);
    };
    if (existing) {
      await join(existing);
    } else {
      encrypted = model?.encrypted ?? o.encrypt ?? false;
      const config: StorageConfig = model ?? {
        chunkSizes: chunkSizes(o.chunkSize, o.minChunkSize, o.maxChunkSize),
        metadataChunkSizes: { average: 64 << 10, minimum: 16 << 10, maximum: 256 << 10 },
        compressionLevel: o.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
        keys: newStorageKeys(encrypted),
        encrypted,
      };
      const seal = encrypted ? { password: await newPassword(settings, o.askPassword), kdf: newKdfParams(o.kdfLogN) } : undefined;
      try {
        await backend.write(CONFIG_FILE, await encodeConfig(config, seal));
        created = true;
      } catch (e) {
        if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
        await join(await backend.read(CONFIG_FILE)); // another client created it a moment before
      }
    }
  } finally {
    await backend.close();
  }
  const storage: StoragePreference = { name, url: o.storageUrl, snapshotId: o.snapshotId, encrypted, settings: {} };
  writePreferences(repoDir, { ...prefs, storages: [...prefs.storages, storage] });
  return { storage, created };
}

async function newPassword(settings: ReturnType<typeof makeSettings>, ask?: (prompt: string) => Promise<string>): Promise<string> {
  const password = await passwordFor(settings, ask);
  if (password.length === 0) throw usage('the password must not be empty');
  if (ask && settings.get('password') === undefined) {
    const again = await ask('Re-enter the password: ');
    if (again !== password) throw usage('the passwords do not match');
  }
  return password;
}
