// The options every command that opens a storage takes: -storage, -threads, and the password
// prompt on a terminal.

import type { Command } from 'commander';
import type { OpenOptions } from '../storage/repository.js';
import { globalFlags, interruption, parseInteger, repoDir, stderrLogger, terminalPrompt } from './context.js';

export interface OpenFlags {
  storage?: string;
  threads?: string;
}

export function withOpenFlags(cmd: Command, threads = true): Command {
  cmd.option('--storage <name>', 'which storage (default: the first one)');
  if (threads) cmd.option('--threads <n>', 'parallel storage operations (default: the threads setting, else 4)');
  return cmd;
}

export function openOptions(f: OpenFlags, cmd: Command): OpenOptions {
  const ask = terminalPrompt();
  return {
    repoDir: repoDir(),
    log: stderrLogger(globalFlags(cmd)),
    ...(f.storage ? { storageName: f.storage } : {}),
    ...(f.threads ? { threads: parseInteger(f.threads) } : {}),
    ...(ask ? { askPassword: ask } : {}),
    signal: interruption.signal,
  };
}
