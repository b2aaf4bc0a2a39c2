// The node options of the CLI's #! line (its heap settings): what `dbk` on the PATH runs with, for
// the benchmarks and the torture harness that start the CLI through process.execPath.

import { readFileSync } from 'node:fs';

export function cliNodeOptions(cli: string): string[] {
  const options = /^#!.*\bnode\b(.*)$/.exec(readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '')?.[1];
  return options?.trim().split(/\s+/).filter(Boolean) ?? [];
}
