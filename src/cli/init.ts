// dbk init / dbk add

import type { Command } from 'commander';
import { add, DEFAULT_COMPRESSION_LEVEL, type InitOptions, init } from '../commands/init.js';
import { usage } from '../errors.js';
import { globalFlags, parseSize, printJson, repoDir, stderrLogger, terminalPrompt } from './context.js';

interface Flags {
  encrypt?: boolean;
  chunkSize?: string;
  min?: string;
  max?: string;
  compressionLevel?: string;
  storageName?: string;
  repository?: string;
  copy?: string;
  bitIdentical?: boolean;
  json?: boolean;
}

const sizeOptions = (f: Flags) => ({
  ...(f.encrypt ? { encrypt: true } : {}),
  ...(f.chunkSize ? { chunkSize: parseSize(f.chunkSize) } : {}),
  ...(f.min ? { minChunkSize: parseSize(f.min) } : {}),
  ...(f.max ? { maxChunkSize: parseSize(f.max) } : {}),
  ...(f.compressionLevel !== undefined ? { compressionLevel: parseLevel(f.compressionLevel) } : {}),
});

function parseLevel(text: string): number {
  const level = Number(text);
  if (!/^\d+$/.test(text) || level > 19) throw usage(`bad compression level '${text}': a zstd level from 1 to 19, or 0 for none`);
  return level;
}

function withStorageFlags(cmd: Command): Command {
  return cmd
    .option('-e, --encrypt', 'encrypt the storage (password from DBK_PASSWORD / DBK_<STORAGE>_PASSWORD, else asked)')
    .option('-c, --chunk-size <size>', 'average chunk size, a power of 2', '4M')
    .option('--min <size>', 'minimum chunk size (default: a quarter of the average)')
    .option('--max <size>', 'maximum chunk size (default: four times the average)')
    .option('-z, --compression-level <level>', `zstd level, 0 for none (default ${DEFAULT_COMPRESSION_LEVEL})`)
    .option('--json', 'print the result as JSON');
}

function report(json: boolean | undefined, r: Awaited<ReturnType<typeof init>>): void {
  if (json) {
    printJson(r);
    return;
  }
  const verb = r.created ? 'created' : 'joined';
  process.stdout.write(`storage '${r.storage.name}' ${verb} at ${r.storage.url} for snapshot id '${r.storage.snapshotId}'${r.storage.encrypted ? ' (encrypted)' : ''}\n`);
}

export function register(program: Command): void {
  withStorageFlags(program.command('init').description('make this folder a repository and set up (or join) its storage'))
    .option('--storage-name <name>', 'name of the storage', 'default')
    .option('--repository <path>', 'back up this folder instead of the current one (.dbk/ stays here)')
    .argument('<snapshot-id>', 'name of this backup set')
    .argument('<storage-url>', '/path, file:///path, sftp://user@host/path, odb://path, s3://bucket/prefix or s3+https://host/bucket/prefix')
    .action(async (snapshotId: string, storageUrl: string, f: Flags, cmd: Command) => {
      const o: InitOptions = {
        repoDir: process.cwd(),
        snapshotId,
        storageUrl,
        storageName: f.storageName ?? 'default',
        ...(f.repository ? { rootDir: f.repository } : {}),
        ...sizeOptions(f),
        log: stderrLogger(globalFlags(cmd)),
      };
      const ask = terminalPrompt();
      report(f.json, await init(ask ? { ...o, askPassword: ask } : o));
    });

  withStorageFlags(program.command('add').description('add a further storage to this repository'))
    .option('--copy <storage>', "give it the chunk keys and chunk sizes of this storage, for 'dbk copy' (an own password, an own encryption key)")
    .option('--bit-identical', 'with --copy: also its encryption key, so chunk files are copied byte for byte')
    .argument('<storage-name>', 'name of the new storage')
    .argument('<snapshot-id>', 'name of this backup set on that storage')
    .argument('<storage-url>', '/path, file:///path, sftp://user@host/path, odb://path, s3://bucket/prefix or s3+https://host/bucket/prefix')
    .action(async (storageName: string, snapshotId: string, storageUrl: string, f: Flags, cmd: Command) => {
      if (f.bitIdentical && !f.copy) throw usage('--bit-identical goes with --copy');
      const copyOf = f.copy ? { copyOf: { from: f.copy, bitIdentical: f.bitIdentical ?? false } } : {};
      const o = { repoDir: repoDir(), snapshotId, storageUrl, storageName, ...sizeOptions(f), ...copyOf, log: stderrLogger(globalFlags(cmd)) };
      const ask = terminalPrompt();
      report(f.json, await add(ask ? { ...o, askPassword: ask } : o));
    });
}
