// dbk backup

import type { Command } from 'commander';
import { type BackupResult, backup } from '../commands/backup.js';
import { ExitCode } from '../errors.js';
import { displayName } from '../format/names.js';
import { formatBytes } from '../human-size.js';
import { finishWith, printJson, progressLine } from './context.js';
import { type OpenFlags, openOptions, withOpenFlags } from './open-flags.js';

interface Flags extends OpenFlags {
  tag?: string;
  hash?: boolean;
  stats?: boolean;
  dryRun?: boolean;
  xattrs?: boolean;
  json?: boolean;
}

function summary(r: BackupResult, stats: boolean): string {
  const lines = [
    r.revision === undefined ? `dry run: nothing was uploaded` : `revision ${r.revision} of '${r.snapshotId}' saved`,
    `${r.files} files, ${formatBytes(r.bytes)}; read ${r.readFiles} files, ${formatBytes(r.readBytes)}`,
  ];
  if (stats) {
    lines.push(
      `chunks: ${r.chunks} cut, ${r.newChunks} new (${formatBytes(r.newBytes)}), ${formatBytes(r.uploadedBytes)} uploaded${r.foundChunks > 0 ? `, ${r.foundChunks} found on the storage` : ''}`,
    );
    lines.push(`time: ${((r.endTime - r.startTime) / 1000).toFixed(1)} s`);
  }
  for (const p of r.skipped) lines.push(`skipped ${displayName(p.path)}: ${p.reason}`);
  for (const p of r.problems) lines.push(`not backed up: ${displayName(p.path)}: ${p.reason}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  withOpenFlags(program.command('backup').description('back up the repository folder as a new revision'))
    .option('-t, --tag <tag>', 'tag the revision')
    .option('--hash', 'read every file, even if its size and mtime are unchanged')
    .option('--stats', 'print chunk and upload statistics')
    .option('--dry-run', 'show what would be uploaded; change nothing')
    .option('--no-xattrs', 'leave out extended attributes and ACLs')
    .option('--json', 'print the result as JSON')
    .action(async (f: Flags, cmd: Command) => {
      const progress = progressLine(!f.json);
      const r = await backup({
        ...openOptions(f, cmd),
        ...(f.tag ? { tag: f.tag } : {}),
        hash: f.hash ?? false,
        dryRun: f.dryRun ?? false,
        xattrs: f.xattrs ?? true,
        onProgress: (p) => progress.update(p),
      }).finally(() => progress.stop());
      if (f.json) printJson(r);
      else process.stdout.write(summary(r, f.stats ?? false));
      finishWith(r.problems.length > 0 ? ExitCode.PARTIAL : ExitCode.OK);
    });
}
