// dbk password: seals the storage's config with a new password. The keys inside stay the same, so
// chunks, revisions and every client's caches stay valid; other clients need only the new password.

import * as path from 'node:path';
import { openBackend } from '../../backends/registry.js';
import { newKdfParams } from '../crypto/keys.js';
import { DbkError, usage } from '../errors.js';
import { configIsEncrypted, decodeConfig, encodeConfig, MAX_KDF_MEMORY } from '../format/config.js';
import { type Logger, silentLogger } from '../log.js';
import { makeSettings, type Settings, settingEnvNames } from '../settings.js';
import { readConfigFile, replaceConfigFile } from '../storage/config-file.js';
import { readPreferences, storagePreference } from '../storage/preferences.js';
import { passwordFor } from '../storage/repository.js';

/** scrypt strengths (log2 N, r = 8) a user may choose: 2^14 is a tenth of a second here, 2^18 the memory cap (256 MiB). */
export const KDF_STRENGTHS = { min: 14, default: 16, max: Math.log2(MAX_KDF_MEMORY / (128 * 8)) };

export interface PasswordOptions {
  repoDir: string;
  /** default: the repository's first storage */
  storageName?: string;
  /** scrypt's log2 N for the new seal (default 16) */
  kdfLogN?: number;
  /** asks for the current password, then the new one twice, when the environment gives none */
  askPassword?: (prompt: string) => Promise<string>;
  log?: Logger;
}

export interface PasswordResult {
  storage: string;
  location: string;
  kdf: { algorithm: 'scrypt'; logN: number; r: number; p: number };
}

export async function changePassword(o: PasswordOptions): Promise<PasswordResult> {
  const logN = o.kdfLogN ?? KDF_STRENGTHS.default;
  if (!Number.isInteger(logN) || logN < KDF_STRENGTHS.min || logN > KDF_STRENGTHS.max) {
    throw usage(`the key-derivation strength must be ${KDF_STRENGTHS.min}–${KDF_STRENGTHS.max} (scrypt's log2 N), not ${o.kdfLogN}`);
  }
  const repoDir = path.resolve(o.repoDir);
  const pref = storagePreference(readPreferences(repoDir), o.storageName);
  const settings = makeSettings(pref.name, pref.settings);
  const backend = await openBackend(pref.url, { settings, repoDir, threads: 1, log: o.log ?? silentLogger });
  try {
    const raw = await readConfigFile(backend);
    if (!raw) throw new DbkError('CONFIG', `no dbk storage at ${backend.location} (config is missing)`);
    if (!configIsEncrypted(raw)) throw new DbkError('CONFIG', `storage '${pref.name}' is not encrypted: it has no password to change`);
    const config = await decodeConfig(raw, await passwordFor(settings, o.askPassword));
    const password = await newPassword(settings, o.askPassword);
    const kdf = newKdfParams(logN);
    await replaceConfigFile(backend, await encodeConfig(config, { password, kdf }));
    return { storage: pref.name, location: backend.location, kdf: { algorithm: 'scrypt', logN, r: kdf.r, p: kdf.p } };
  } finally {
    await backend.close();
  }
}

/** The new password: DBK_<STORAGE>_NEW_PASSWORD (DBK_NEW_PASSWORD for `default`), else asked twice. */
async function newPassword(settings: Settings, ask?: (prompt: string) => Promise<string>): Promise<string> {
  let password = settings.get('new_password');
  if (password === undefined) {
    if (!ask) {
      throw usage(`no new password given: set ${settingEnvNames(settings.storageName, 'new_password').at(-1)}, or run on a terminal to be asked`);
    }
    password = await ask(`New password for storage '${settings.storageName}': `);
    if ((await ask('Re-enter the new password: ')) !== password) throw usage('the new passwords do not match');
  }
  if (password.length === 0) throw usage('the new password must not be empty');
  return password;
}
