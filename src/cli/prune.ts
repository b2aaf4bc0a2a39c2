// dbk prune: flags to PruneOptions; prints the plan (all of it on a dry run) and what was done.

import type { Command } from 'commander';
import { describePlan, type PruneResult, prune } from '../commands/prune.js';
import { parseKeepPolicy } from '../prune/retention.js';
import { collect, collectRevisions, printJson, writeOut } from './context.js';
import { type OpenFlags, openOptions, withOpenFlags } from './open-flags.js';
import { phaseProgress } from './phase-progress.js';

interface Flags extends OpenFlags {
  all?: boolean;
  id?: string;
  r?: number[];
  tag?: string[];
  keep?: string[];
  exhaustive?: boolean;
  exclusive?: boolean;
  collectOnly?: boolean;
  deleteOnly?: boolean;
  dryRun?: boolean;
  ignore?: string[];
  fromCache?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  withOpenFlags(program.command('prune').description('delete revisions and the chunks only they use (two steps, safe while others back up)'))
    .option('-a, --all', 'apply to all snapshot ids on the storage')
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .option('-r <revision>', 'delete this revision (repeatable, ranges like 5-9)', collectRevisions)
    .option('-t, --tag <tag>', 'delete revisions with this tag (repeatable)', collect)
    .option('--keep <n:m>', 'for revisions older than m days keep one every n days; n = 0 keeps none (repeatable, any order)', collect)
    .option('--exhaustive', 'consider every chunk on the storage, also leftovers of interrupted backups')
    .option('--exclusive', 'no other client is running: delete at once, without fossils')
    .option('--collect-only', 'only step 1: make fossils')
    .option('--delete-only', 'only step 2: delete fossils of ripe collections')
    .option('--dry-run', 'show what would change; change nothing')
    .option('--ignore <snapshot-id>', 'leave this id out of the "every id has a new revision" test (repeatable)', collect)
    .option('--from-cache', 'with --exhaustive: read the chunk list from the local cache')
    .option('--json', 'print the plan and the result as JSON')
    .action(async (f: Flags, cmd: Command) => {
      const progress = phaseProgress(!f.json);
      const r = await prune({
        ...openOptions(f, cmd),
        all: f.all ?? false,
        ...(f.id ? { snapshotId: f.id } : {}),
        revisions: f.r ?? [],
        tags: f.tag ?? [],
        keep: (f.keep ?? []).map(parseKeepPolicy),
        exhaustive: f.exhaustive ?? false,
        exclusive: f.exclusive ?? false,
        collectOnly: f.collectOnly ?? false,
        deleteOnly: f.deleteOnly ?? false,
        dryRun: f.dryRun ?? false,
        ignore: f.ignore ?? [],
        ...(f.fromCache ? { fromCache: true } : {}),
        onProgress: (done, total) => progress.update('loading revisions', done, total),
      }).finally(() => progress.stop());
      if (f.json) printJson(r);
      else await report(r);
    });
}

/** The plan (each chunk on a dry run) and the outcome, written as they are described. */
async function report(r: PruneResult): Promise<void> {
  let page = '';
  for (const line of describePlan(r.plan, { dryRun: r.dryRun, eachChunk: r.dryRun })) {
    page += `${line}\n`;
    if (page.length >= 1 << 16) {
      await writeOut(page);
      page = '';
    }
  }
  const x = r.execution;
  if (x) {
    page += `done: ${x.deletedRevisions} revisions deleted, ${x.fossilized} chunks made fossils, ${x.deletedChunks} chunks or fossils deleted, ${x.resurrected} resurrected\n`;
  }
  await writeOut(`${page}log: ${r.logFile}\n`);
}
