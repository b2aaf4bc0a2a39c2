// dbk serve: the web console and read-only WebDAV of every revision, until Ctrl-C.

import type { Command } from 'commander';
import { DEFAULT_LISTEN } from '../serve/defaults.js';
import { globalFlags, interruption, parseInteger, repoDir, stderrLogger, terminalPrompt } from './context.js';

interface Flags {
  listen?: string;
  storage?: string;
  readOnly?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
  threads?: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('a web console and read-only WebDAV (/dav/) of every revision, for this repository folder')
    .option('--listen <host:port>', `where to listen (port 0: any free port)`, DEFAULT_LISTEN)
    .option('--storage <name>', 'serve only this storage (default: every storage of the repository)')
    .option('--read-only', 'browse, download and WebDAV only: no backup, check, prune or restore from the console')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (needed to listen beyond loopback)')
    .option('--tls-key <file>', 'PEM private key of the certificate')
    .option('--insecure', 'listen beyond loopback without TLS (the token then crosses the network in the clear)')
    .option('--threads <n>', 'parallel storage operations (default: the threads setting, else 4)')
    .action(async (f: Flags, cmd: Command) => {
      const ask = terminalPrompt();
      // loaded here, not with the command line: the console and WebDAV are a third of every command's start-up
      const { startServer } = await import('../serve/server.js');
      const server = await startServer({
        repoDir: repoDir(),
        log: stderrLogger(globalFlags(cmd)),
        ...(ask ? { askPassword: ask } : {}),
        ...(f.threads ? { threads: parseInteger(f.threads) } : {}),
        ...(f.listen ? { listen: f.listen } : {}),
        ...(f.storage ? { storage: f.storage } : {}),
        readOnly: f.readOnly ?? false,
        ...(f.tlsCert ? { tlsCert: f.tlsCert } : {}),
        ...(f.tlsKey ? { tlsKey: f.tlsKey } : {}),
        insecure: f.insecure ?? false,
        version: program.version() ?? '',
      });
      process.stdout.write(`dbk serve: open ${server.url}\nWebDAV: ${server.baseUrl}dav/ (any user name, the token as password)\nCtrl-C stops it.\n`);
      await new Promise<void>((resolve) => interruption.signal.addEventListener('abort', () => resolve(), { once: true }));
      await server.close();
    });
}
