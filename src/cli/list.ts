// dbk list, history, cat, diff: reading revisions.

import type { Command } from 'commander';
import { cat } from '../commands/cat.js';
import { diffStream } from '../commands/diff.js';
import { history } from '../commands/history.js';
import { listStream, type StreamedRevision } from '../commands/list.js';
import { type EntryType, type FileEntry, mtimeMsOf } from '../format/file-list.js';
import { displayName } from '../format/names.js';
import { formatBytes } from '../human-size.js';
import { collectRevisions, jsonLine, parseInteger, printJson, printJsonArray, writeOut } from './context.js';
import { type OpenFlags, openOptions, withOpenFlags } from './open-flags.js';

const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
/** as `ls -l` marks them */
const TYPE_MARK: Record<EntryType, string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', chardev: 'c', blockdev: 'b' };
const describe = (e: FileEntry) =>
  `${TYPE_MARK[e.type]}${(e.mode & 0o777).toString(8).padStart(3, '0')} ${String(e.size).padStart(12)} ${when(mtimeMsOf(e))} ${displayName(e.path)}${e.target !== undefined ? ` -> ${displayName(e.target)}` : ''}`;

/** A revision as JSON, its files (a stream) written as they are read. */
async function revisionJson({ files, ...rest }: StreamedRevision): Promise<string> {
  const head = jsonLine(rest);
  if (!files) return head;
  await writeOut(`${head.slice(0, -1)},"files":[`);
  let first = true;
  for await (const e of files) {
    await writeOut(`${first ? '' : ','}\n${jsonLine(e)}`);
    first = false;
  }
  return ']}';
}

interface ListFlags extends OpenFlags {
  a?: boolean;
  id?: string;
  r?: number[];
  files?: boolean;
  chunks?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  withOpenFlags(program.command('list').description('list revisions, optionally with files and chunks'))
    .option('-a, --all', 'all snapshot ids on the storage')
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .option('-r <revision>', 'only this revision (repeatable, ranges like 5-9)', collectRevisions)
    .option('--files', 'list the files of each revision')
    .option('--chunks', 'list the chunk ids of each revision')
    .option('--json', 'print the result as JSON')
    .action(async (f: ListFlags & { all?: boolean }, cmd: Command) => {
      const items = listStream({
        ...openOptions(f, cmd),
        all: f.all ?? false,
        ...(f.id ? { snapshotId: f.id } : {}),
        ...(f.r ? { revisions: f.r } : {}),
        files: f.files ?? false,
        chunks: f.chunks ?? false,
      });
      if (f.json) return printJsonArray(items, revisionJson);
      for await (const { revision: r, files, chunkIds } of items) {
        await writeOut(`${r.snapshotId} revision ${r.revision} created at ${when(r.endTime)}${r.tag ? ` tag ${r.tag}` : ''}: ${r.fileCount} files, ${formatBytes(r.fileBytes)}\n`);
        if (files) for await (const e of files) await writeOut(`  ${describe(e)}\n`);
        for (const id of chunkIds ?? []) await writeOut(`  chunk ${id}\n`);
      }
    });

  withOpenFlags(program.command('history').description('how one file changed across revisions'))
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .option('--json', 'print the result as JSON')
    .argument('<path>', 'path relative to the repository')
    .action(async (p: string, f: OpenFlags & { id?: string; json?: boolean }, cmd: Command) => {
      const items = await history({ ...openOptions(f, cmd), path: p, ...(f.id ? { snapshotId: f.id } : {}) });
      if (f.json) return printJson(items);
      for (const h of items) process.stdout.write(`${String(h.revision).padStart(6)}: ${h.entry ? describe(h.entry) : 'absent'}\n`);
    });

  withOpenFlags(program.command('cat').description("print a file's content from a revision"))
    .requiredOption('-r <revision>', 'revision number')
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .argument('<path>', 'path relative to the repository')
    .action(async (p: string, f: OpenFlags & { r: string; id?: string }, cmd: Command) => {
      for await (const piece of cat({ ...openOptions(f, cmd), revision: parseInteger(f.r), path: p, ...(f.id ? { snapshotId: f.id } : {}) })) {
        if (!process.stdout.write(piece)) await new Promise((r) => process.stdout.once('drain', r));
      }
    });

  withOpenFlags(program.command('diff').description('compare two revisions'))
    .requiredOption('-r <revision>', 'the two revisions (give -r twice)', collectRevisions)
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .option('--json', 'print the result as JSON')
    .action(async (f: OpenFlags & { r: number[]; id?: string; json?: boolean }, cmd: Command) => {
      const [from, to] = f.r;
      if (from === undefined || to === undefined || f.r.length !== 2) throw new (await import('../errors.js')).DbkError('USAGE', 'diff needs exactly two revisions: -r A -r B');
      const items = diffStream({ ...openOptions(f, cmd), from, to, ...(f.id ? { snapshotId: f.id } : {}) });
      if (f.json) return printJsonArray(items);
      const mark = { added: '+', removed: '-', changed: '*' } as const;
      for await (const d of items) await writeOut(`${mark[d.change]} ${displayName(d.path)}\n`);
    });
}
