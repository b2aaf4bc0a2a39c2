// dbk copy: flags to CopyOptions; prints what was copied.

import type { Command } from 'commander';
import { type CopyResult, copy } from '../commands/copy.js';
import { formatBytes } from '../human-size.js';
import { collectRevisions, printJson } from './context.js';
import { type OpenFlags, openOptions } from './open-flags.js';
import { phaseProgress } from './phase-progress.js';

interface Flags extends Omit<OpenFlags, 'storage'> {
  from?: string;
  to: string;
  id?: string;
  r?: number[];
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('copy')
    .description("copy revisions, and exactly the chunks it lacks, to a storage added with 'add --copy'")
    .option('--from <storage>', 'the storage to copy from (default: the first)')
    .requiredOption('--to <storage>', 'the storage to copy to')
    .option('--id <snapshot-id>', 'only this snapshot id (default: every id on the source)')
    .option('-r <revision>', 'only this revision of --id (repeatable, ranges like 5-9)', collectRevisions)
    .option('--threads <n>', 'parallel storage operations (default: the threads setting, else 4)')
    .option('--json', 'print the result as JSON')
    .action(async (f: Flags, cmd: Command) => {
      const progress = phaseProgress(!f.json);
      const open = openOptions({ ...(f.threads ? { threads: f.threads } : {}) }, cmd);
      const r = await copy({
        ...open,
        ...(f.from ? { from: f.from } : {}),
        to: f.to,
        ...(f.id ? { snapshotId: f.id } : {}),
        ...(f.r ? { revisions: f.r } : {}),
        onProgress: (p) => progress.update(`revision ${p.revisions + 1}/${p.totalRevisions}, chunks sent`, p.chunks),
      }).finally(() => progress.stop());
      if (f.json) return printJson(r);
      process.stdout.write(report(r));
    });
}

function report(r: CopyResult): string {
  const lines = [
    `copied ${r.copied.length} revision${r.copied.length === 1 ? '' : 's'} from '${r.from}' to '${r.to}'${r.present.length > 0 ? ` (${r.present.length} there already)` : ''}`,
    `sent ${r.chunks} chunks, ${formatBytes(r.bytes)}${r.bitIdentical ? ' as they were stored' : ', re-encoded for the destination'}; ${r.skippedChunks} the destination had`,
  ];
  return `${lines.join('\n')}\n`;
}
