// dbk info URL: what a storage is, without a repository: its config (format version, encryption,
// chunk sizes, compression) and its snapshot ids with their revisions. Chunk sizes and compression
// are sealed with the password on an encrypted storage: without one, they are left out.

import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Backend } from '../../backends/backend.js';
import { openBackend } from '../../backends/registry.js';
import { DbkError, isDbkError } from '../errors.js';
import { type ChunkSizes, configHeader, decodeConfig } from '../format/config.js';
import { type Logger, silentLogger } from '../log.js';
import { makeSettings, type Settings } from '../settings.js';
import { readConfigFile } from '../storage/config-file.js';
import { preferencesPath } from '../storage/preferences.js';
import { listRevisions, listSnapshotIds } from '../storage/repository.js';

export interface InfoOptions {
  storageUrl: string;
  /** whose settings (keys, password) to use: DBK_<NAME>_<KEY> (default: 'default', DBK_<KEY>) */
  storageName?: string;
  /** that storage's entry in a repository's preferences, when run in one */
  storedSettings?: Readonly<Record<string, string>>;
  /** where host keys are pinned: this folder's .dbk/ when it is a repository, else ~/.config/dbk/.dbk/ */
  repoDir?: string;
  askPassword?: (prompt: string) => Promise<string>;
  log?: Logger;
}

export interface StorageInfo {
  location: string;
  formatVersion: number;
  encrypted: boolean;
  kdf?: { algorithm: 'scrypt'; logN: number; r: number; p: number };
  /** undefined when the storage is encrypted and no password was given */
  chunking?: { chunkSizes: ChunkSizes; metadataChunkSizes: ChunkSizes; compressionLevel: number };
  snapshotIds: { id: string; revisions: number; first?: number; last?: number }[];
}

export async function info(o: InfoOptions): Promise<StorageInfo> {
  const settings = makeSettings(o.storageName ?? 'default', o.storedSettings ?? {});
  const backend = await openBackend(o.storageUrl, { settings, repoDir: hostKeyFolder(o.repoDir), threads: 4, log: o.log ?? silentLogger });
  try {
    const raw = await readConfigFile(backend);
    if (!raw) throw new DbkError('CONFIG', `no dbk storage at ${backend.location} (config is missing)`, { hint: "check the URL, or run 'dbk init' to make one" });
    const header = configHeader(raw);
    const password = header.encrypted ? await optionalPassword(settings, o.askPassword) : undefined;
    const config =
      header.encrypted && password === undefined
        ? undefined
        : await decodeConfig(raw, password).catch((e: unknown) => {
            if (!isDbkError(e, 'WRONG_PASSWORD')) throw e;
            throw new DbkError('WRONG_PASSWORD', `the password of storage settings '${settings.storageName}' does not open ${backend.location}`, {
              hint: `name the storage whose password it is with -storage-name NAME (DBK_<NAME>_PASSWORD), or leave the password out to see less`,
            });
          });
    return {
      location: backend.location,
      formatVersion: header.version,
      encrypted: header.encrypted,
      ...(header.kdf ? { kdf: header.kdf } : {}),
      ...(config ? { chunking: { chunkSizes: config.chunkSizes, metadataChunkSizes: config.metadataChunkSizes, compressionLevel: config.compressionLevel } } : {}),
      snapshotIds: await snapshotIds(backend),
    };
  } finally {
    await backend.close();
  }
}

async function snapshotIds(backend: Backend): Promise<StorageInfo['snapshotIds']> {
  const out: StorageInfo['snapshotIds'] = [];
  for (const id of await listSnapshotIds(backend)) {
    const numbers = await listRevisions(backend, id);
    out.push({ id, revisions: numbers.length, ...(numbers.length > 0 ? { first: numbers[0]!, last: numbers.at(-1)! } : {}) });
  }
  return out;
}

/** The password from the environment, or asked on a terminal; none is fine (info then shows less). */
async function optionalPassword(settings: Settings, ask?: (prompt: string) => Promise<string>): Promise<string | undefined> {
  return settings.get('password') ?? (ask ? ask(`Password for the storage (empty to skip): `).then((p) => (p === '' ? undefined : p)) : undefined);
}

function hostKeyFolder(repoDir: string | undefined): string {
  const here = path.resolve(repoDir ?? process.cwd());
  if (existsSync(preferencesPath(here))) return here;
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'dbk');
}
