// .dbk/preferences: the storages this repository backs up to. JSON, written atomically.
// Passwords are not kept here: they come from the environment (DBK_PASSWORD,
// DBK_<STORAGE>_PASSWORD) or a prompt.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbkError } from '../errors.js';

export interface StoragePreference {
  name: string;
  url: string;
  snapshotId: string;
  encrypted: boolean;
  /** per-storage settings; the environment overrides each (DBK_<STORAGE>_<KEY>) */
  settings: Record<string, string>;
}

export interface Preferences {
  version: 1;
  /** the folder backed up, when it is not the one holding .dbk/ (init -repository) */
  root?: string;
  storages: StoragePreference[];
}

export const DBK_DIR = '.dbk';
export const preferencesPath = (repoDir: string) => path.join(repoDir, DBK_DIR, 'preferences');

/** The nearest folder at or above `start` that holds .dbk/preferences, like git finds .git. */
export function findRepository(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(preferencesPath(dir))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export function readPreferences(repoDir: string): Preferences {
  const file = preferencesPath(repoDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new DbkError('CONFIG', `${repoDir} is not a dbk repository (no ${DBK_DIR}/preferences)`, {
      hint: "run 'dbk init SNAPSHOT_ID STORAGE_URL' in the folder to back up",
    });
  }
  try {
    const p = JSON.parse(text) as Preferences;
    if (p.version !== 1 || !Array.isArray(p.storages)) throw new Error('unknown layout');
    return p;
  } catch (e) {
    throw new DbkError('CONFIG', `${file} is damaged: ${(e as Error).message}`);
  }
}

export function writePreferences(repoDir: string, prefs: Preferences): void {
  const file = preferencesPath(repoDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(prefs, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function storagePreference(prefs: Preferences, name: string | undefined): StoragePreference {
  const s = name === undefined ? prefs.storages[0] : prefs.storages.find((x) => x.name === name);
  if (!s) {
    const known = prefs.storages.map((x) => x.name).join(', ') || 'none';
    throw new DbkError('CONFIG', `no storage named '${name ?? 'default'}' in this repository (known: ${known})`);
  }
  return s;
}
