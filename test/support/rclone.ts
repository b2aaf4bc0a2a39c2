// rclone (Debian's 1.60, .ci/install-rclone.sh) for tests that need a WebDAV client that is not
// ours. Every run is hermetic: an in-memory config (--config /dev/null), and HOME and the cache in
// a folder of the caller's, so nothing is read from or written to the user's ~. Runs are spawned
// and awaited, never synchronous: the server they talk to is usually in the test's own process.
// Nothing here depends on vitest.

import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';

export const RCLONE_PATH = process.env.DBK_TEST_RCLONE ?? 'rclone';

/**
 * Why rclone cannot run here, or undefined when it can. Under CI a missing rclone is an error, so
 * a CI run can never pass by skipping the WebDAV client tests.
 */
export function rcloneUnavailable(): string | undefined {
  try {
    execFileSync(RCLONE_PATH, ['version'], { stdio: 'ignore', timeout: 30_000 });
    return undefined;
  } catch {
    const why = `${RCLONE_PATH} not found: install rclone (.ci/install-rclone.sh) to run the WebDAV client tests`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(why);
    console.warn(`skipping rclone tests: ${why}`);
    return why;
  }
}

export interface RcloneRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs rclone with `args` to its end; `home` takes its HOME and cache (no config file is read or written). */
export function rclone(args: string[], o: { home: string; timeoutMs?: number }): Promise<RcloneRun> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, XDG_CONFIG_HOME: path.join(o.home, '.config'), XDG_CACHE_HOME: path.join(o.home, '.cache') };
  const child = spawn(RCLONE_PATH, ['--config', '/dev/null', '--cache-dir', path.join(o.home, '.cache', 'rclone'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** As rclone(), and a non-zero exit is an error; resolves with stdout. */
export async function mustRclone(args: string[], o: { home: string; timeoutMs?: number }): Promise<string> {
  const r = await rclone(args, o);
  if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}
