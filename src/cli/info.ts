// dbk info URL

import type { Command } from 'commander';
import { info, type StorageInfo } from '../commands/info.js';
import type { ChunkSizes } from '../format/config.js';
import { formatBytes } from '../human-size.js';
import { findRepository, readPreferences } from '../storage/preferences.js';
import { globalFlags, printJson, stderrLogger, terminalPrompt } from './context.js';

interface Flags {
  storageName?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('info')
    .description("show a storage's config and its snapshot ids, without a repository")
    .argument('<storage-url>', 'the storage, as given to init')
    .option('--storage-name <name>', 'whose settings to use for keys and password (DBK_<NAME>_<KEY>)', 'default')
    .option('--json', 'print the result as JSON')
    .action(async (storageUrl: string, f: Flags, cmd: Command) => {
      const name = f.storageName ?? 'default';
      const repo = findRepository(process.cwd());
      const stored = repo ? readPreferences(repo).storages.find((s) => s.name === name)?.settings : undefined;
      const ask = terminalPrompt();
      const r = await info({
        storageUrl,
        storageName: name,
        ...(repo ? { repoDir: repo } : {}),
        ...(stored ? { storedSettings: stored } : {}),
        ...(ask ? { askPassword: ask } : {}),
        log: stderrLogger(globalFlags(cmd)),
      });
      if (f.json) return printJson(r);
      process.stdout.write(describe(r));
    });
}

const sizes = (s: ChunkSizes) => `average ${formatBytes(s.average)} (${formatBytes(s.minimum)}–${formatBytes(s.maximum)})`;

function describe(r: StorageInfo): string {
  const lines = [`storage:   ${r.location}`];
  lines.push(`format:    version ${r.formatVersion}, ${r.kdf ? `encrypted (scrypt 2^${r.kdf.logN}, r ${r.kdf.r}, p ${r.kdf.p})` : 'not encrypted'}`);
  if (r.chunking) {
    const c = r.chunking;
    lines.push(`chunks:    ${sizes(c.chunkSizes)}; metadata ${sizes(c.metadataChunkSizes)}`);
    lines.push(`compress:  ${c.compressionLevel === 0 ? 'off' : `zstd level ${c.compressionLevel}`}`);
  } else {
    lines.push('chunks:    sealed (give the password to see chunk sizes and compression)');
  }
  lines.push(`snapshots: ${r.snapshotIds.length === 0 ? 'none yet' : `${r.snapshotIds.length} ids`}`);
  const width = Math.max(0, ...r.snapshotIds.map((s) => s.id.length));
  for (const s of r.snapshotIds) {
    lines.push(`  ${s.id.padEnd(width)}  ${s.revisions} revision${s.revisions === 1 ? '' : 's'}${s.first === undefined ? '' : ` (${s.first}–${s.last})`}`);
  }
  return `${lines.join('\n')}\n`;
}
