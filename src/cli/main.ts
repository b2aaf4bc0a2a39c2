#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=50
// The dbk command line: parses, calls the library, prints. Errors become messages and exit codes
// here and nowhere else.
//
// The young generation is kept small (4 MiB semi-spaces, not 16): the main thread's short-lived
// objects die young either way, and a backup or restore that must stay within 300 MB of memory
// has no 24 MiB to spare for them. The old generation may grow to 1.5 × what survived the last
// full collection, not the up to 4 × V8 picks for a heap it collects quickly: of the three heaps
// of a restore (main thread, codec worker, file writer) that took 15–20 MB off the peak.

import { Command, CommanderError } from 'commander';
import { DbkError, ExitCode } from '../errors.js';
import { catchInterruptions } from './context.js';

type CommandModule = () => Promise<{ register(program: Command): void }>;

const initCli: CommandModule = () => import('./init.js');
const listCli: CommandModule = () => import('./list.js');

/**
 * The module of each command, in the order of the help. A run loads the one it names only: the
 * others and the parts of the engine only they use took 60 ms of a backup's start, on one core.
 */
const COMMANDS: [string, CommandModule][] = [
  ['init', initCli],
  ['add', initCli],
  ['backup', () => import('./backup.js')],
  ['restore', () => import('./restore.js')],
  ['list', listCli],
  ['history', listCli],
  ['cat', listCli],
  ['diff', listCli],
  ['check', () => import('./check.js')],
  ['prune', () => import('./prune.js')],
  ['copy', () => import('./copy.js')],
  ['password', () => import('./password.js')],
  ['info', () => import('./info.js')],
  ['serve', () => import('./serve.js')],
  ['odb-login', () => import('./odb-login.js')],
];

/** The program, with the command `args` name (the global options take no values) or, for help and mistakes, all of them. */
export async function buildProgram(args: string[]): Promise<Command> {
  const program = new Command('dbk')
    .description('deduplicating backups with check and prune that scale')
    .version('0.1.0')
    .option('-v, --verbose', 'more log')
    .option('-d, --debug', 'debug log')
    .showHelpAfterError(false)
    .exitOverride();
  const named = COMMANDS.find(([name]) => name === args.find((a) => !a.startsWith('-')));
  const modules = named ? [named[1]] : [...new Set(COMMANDS.map(([, load]) => load))];
  for (const m of await Promise.all(modules.map((load) => load()))) m.register(program);
  program.addHelpText('after', EXIT_CODES);
  return program;
}

const EXIT_CODES = `
Exit codes: 0 success; 1 failure; 2 bad command line; 3 finished, but some files were not
backed up or restored, or chunks are missing; 130 interrupted.`;

/** Users of this family of tools type long options with one dash (-threads 4): accept both. */
export function normalizeArgs(args: string[], program: Command): string[] {
  const longs = new Set<string>(['help', 'version']);
  const visit = (c: Command) => {
    for (const o of c.options) if (o.long) longs.add(o.long.slice(2));
    c.commands.forEach(visit);
  };
  visit(program);
  const end = args.indexOf('--');
  return args.map((a, i) => {
    if (end >= 0 && i > end) return a;
    const m = /^-([A-Za-z][A-Za-z0-9-]+)(=.*)?$/.exec(a);
    return m && longs.has(m[1]!) ? `-${a}` : a;
  });
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv.slice(2));
    await program.parseAsync(normalizeArgs(argv.slice(2), program), { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return ExitCode.OK; // --help, --version
    return ExitCode.USAGE;
  }
  if (e instanceof DbkError) {
    process.stderr.write(`dbk: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  ${e.hint}\n`);
    if (e.code === 'USAGE') return ExitCode.USAGE;
    if (e.code === 'ABORTED') return ExitCode.INTERRUPTED;
    if (e.code === 'MISSING_CHUNKS') return ExitCode.PARTIAL;
    return ExitCode.FAILED;
  }
  process.stderr.write(`dbk: ${(e as Error)?.message ?? String(e)}\n`);
  if (process.env.DBK_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return ExitCode.FAILED;
}

catchInterruptions();
const code = await main(process.argv);
// writes to a pipe are asynchronous: exit once stdout has taken everything, or long output is cut
process.stdout.write('', () => process.exit(code));
