// Where a worker thread's compiled module is: beside this one when running from dist/, under
// dist/ when running from the TypeScript sources (the tests), since a worker cannot load .ts.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `name` is the worker module's file name in src/engine, with a .js suffix. */
export function workerFile(name: string): string {
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL(`../../dist/src/engine/${name}`, import.meta.url));
}
