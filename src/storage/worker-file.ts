// Where a worker thread's compiled module is: under dist/src when running from dist/, and under
// dist/ too when running from the TypeScript sources (the tests), since a worker cannot load .ts.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `module` is the worker module's path below src/, with a .js suffix (e.g. "restore/file-writer-worker.js"). */
export function workerFile(module: string): string {
  const built = fileURLToPath(new URL(`../${module}`, import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL(`../../dist/src/${module}`, import.meta.url));
}
