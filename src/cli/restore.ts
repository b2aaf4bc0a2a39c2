// dbk restore

import type { Command } from 'commander';
import { type RestoreResult, restore } from '../commands/restore.js';
import { ExitCode } from '../errors.js';
import { displayName } from '../format/names.js';
import { formatBytes } from '../human-size.js';
import { finishWith, parseInteger, printJson, progressLine } from './context.js';
import { type OpenFlags, openOptions, withOpenFlags } from './open-flags.js';

interface Flags extends OpenFlags {
  r: string;
  id?: string;
  overwrite?: boolean;
  delete?: boolean;
  hash?: boolean;
  xattrs?: boolean;
  numericOwner?: boolean;
  json?: boolean;
}

function summary(r: RestoreResult): string {
  const lines = [`restored ${r.restoredFiles} files (${formatBytes(r.restoredBytes)}) from revision ${r.revision} of '${r.snapshotId}'; ${r.unchangedFiles} already up to date`];
  for (const p of r.keptFiles) lines.push(`kept ${displayName(p)}: it exists and differs (use -overwrite to replace it)`);
  for (const p of r.deletedFiles) lines.push(`deleted ${displayName(p)}`);
  for (const b of r.broken) lines.push(`chunk ${b.chunkId} ${b.reason}; not restored: ${b.files.map(displayName).join(', ')}`);
  for (const f of r.failed) lines.push(`not restored: ${displayName(f.path)}: ${f.reason}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  withOpenFlags(program.command('restore').description('restore files of a revision into the repository folder'))
    .requiredOption('-r <revision>', 'revision number')
    .option('--id <snapshot-id>', 'restore from another snapshot id')
    .option('--overwrite', 'replace existing files that differ')
    .option('--delete', 'delete files the revision does not have')
    .option('--hash', 'compare existing files by content, not size and mtime')
    .option('--no-xattrs', 'leave out extended attributes and ACLs')
    .option('--numeric-owner', 'as root, give owners by the recorded ids, not by user and group names')
    .option('--json', 'print the result as JSON')
    .argument('[patterns...]', 'only paths matching these globs')
    .action(async (patterns: string[], f: Flags, cmd: Command) => {
      const progress = progressLine(!f.json);
      const r = await restore({
        ...openOptions(f, cmd),
        revision: parseInteger(f.r),
        ...(f.id ? { snapshotId: f.id } : {}),
        patterns,
        overwrite: f.overwrite ?? false,
        delete: f.delete ?? false,
        hash: f.hash ?? false,
        xattrs: f.xattrs ?? true,
        numericOwner: f.numericOwner ?? false,
        onProgress: (p) => progress.update(p),
      }).finally(() => progress.stop());
      if (f.json) printJson(r);
      else process.stdout.write(summary(r));
      finishWith(r.broken.length > 0 || r.failed.length > 0 ? ExitCode.PARTIAL : ExitCode.OK);
    });
}
