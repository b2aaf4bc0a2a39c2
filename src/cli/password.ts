// dbk password

import type { Command } from 'commander';
import { changePassword, KDF_STRENGTHS } from '../commands/password.js';
import { globalFlags, parseInteger, printJson, repoDir, stderrLogger, terminalPrompt } from './context.js';

interface Flags {
  storage?: string;
  kdfStrength?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('password')
    .description("change a storage's password (asked twice on a terminal, else DBK_NEW_PASSWORD / DBK_<STORAGE>_NEW_PASSWORD)")
    .option('--storage <name>', 'the storage (default: the first)')
    .option('--kdf-strength <n>', `scrypt's log2 N for the new password, ${KDF_STRENGTHS.min}–${KDF_STRENGTHS.max}; each step doubles its time and memory (default ${KDF_STRENGTHS.default})`)
    .option('--json', 'print the result as JSON')
    .action(async (f: Flags, cmd: Command) => {
      const ask = terminalPrompt();
      const r = await changePassword({
        repoDir: repoDir(),
        ...(f.storage ? { storageName: f.storage } : {}),
        ...(f.kdfStrength ? { kdfLogN: parseInteger(f.kdfStrength) } : {}),
        ...(ask ? { askPassword: ask } : {}),
        log: stderrLogger(globalFlags(cmd)),
      });
      if (f.json) return printJson(r);
      process.stdout.write(`password of storage '${r.storage}' at ${r.location} changed (scrypt 2^${r.kdf.logN}); other clients now need the new one\n`);
    });
}
