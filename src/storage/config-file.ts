// The storage's config file, as a whole file on the storage: found (also in the middle of a
// password change), and replaced by `dbk password` so that at every moment a whole config is
// there for readers: written beside as config.new, the old one removed, the new one renamed in.
// A change cut short leaves config (the old password still opens it) and maybe config.new, or
// config.new alone (the new password opens it); the next change, or any reader, takes it from there.
// One change at a time: two `dbk password` racing on one storage are not guarded against.

import type { Backend } from '../../backends/backend.js';
import { isDbkError } from '../errors.js';

export const CONFIG_FILE = 'config';
const NEXT_CONFIG_FILE = 'config.new';

/** The config's bytes, or undefined when the storage has none (not a dbk storage yet). */
export async function readConfigFile(backend: Backend): Promise<Buffer | undefined> {
  for (const name of [CONFIG_FILE, NEXT_CONFIG_FILE]) {
    try {
      return await backend.read(name);
    } catch (e) {
      if (!isDbkError(e, 'NOT_FOUND')) throw e;
    }
  }
  return undefined;
}

/** Puts `bytes` in the config's place, never leaving the storage without a whole config. */
export async function replaceConfigFile(backend: Backend, bytes: Buffer): Promise<void> {
  if (await backend.stat(CONFIG_FILE)) await setAside(backend);
  else await backend.rename(NEXT_CONFIG_FILE, CONFIG_FILE); // a change cut short inside its swap: finish it first
  await backend.write(NEXT_CONFIG_FILE, bytes);
  await backend.delete(CONFIG_FILE);
  try {
    await backend.rename(NEXT_CONFIG_FILE, CONFIG_FILE);
  } catch (e) {
    // a rename that landed but whose answer was lost (on S3 a copy, then a delete): done if config holds these bytes
    if (!isDbkError(e, 'ALREADY_EXISTS') || !(await backend.read(CONFIG_FILE)).equals(bytes)) throw e;
    await backend.delete(NEXT_CONFIG_FILE);
  }
}

/**
 * A config.new beside a config: most likely a change cut short before its swap, never in use; but
 * it may hold the real keys (an older dbk, which knows only `config`, may have made a new storage
 * in the gap of a change cut short). It is renamed aside, never deleted.
 */
async function setAside(backend: Backend): Promise<void> {
  if (await backend.stat(NEXT_CONFIG_FILE)) await backend.rename(NEXT_CONFIG_FILE, `${NEXT_CONFIG_FILE}.${Date.now()}`);
}
