// The one settings lookup: every per-storage key (secrets, tuning knobs, cache switches) is read
// here, environment first (DBK_<STORAGE>_<KEY>, or DBK_<KEY> for the storage named `default`),
// then the storage's entry in .dbk/preferences.

export interface Settings {
  /** the storage these settings belong to */
  readonly storageName: string;
  get(key: string): string | undefined;
}

const envName = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/** Names of the environment variables consulted for a key, most specific first. */
export function settingEnvNames(storageName: string, key: string): string[] {
  const names = [`DBK_${envName(storageName)}_${envName(key)}`];
  if (storageName === 'default') names.push(`DBK_${envName(key)}`);
  return names;
}

export function makeSettings(storageName: string, stored: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    storageName,
    get(key: string) {
      for (const name of settingEnvNames(storageName, key)) {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
      }
      return stored[key];
    },
  };
}

export function boolSetting(s: Settings, key: string, fallback: boolean): boolean {
  const v = s.get(key);
  if (v === undefined) return fallback;
  return !/^(0|false|no|off)$/i.test(v.trim());
}

export function intSetting(s: Settings, key: string, fallback: number): number {
  const v = s.get(key);
  if (v === undefined) return fallback;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : fallback;
}
