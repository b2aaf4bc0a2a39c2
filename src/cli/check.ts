// dbk check: flags to CheckOptions, the result as text, a table (-tabular) or JSON.

import { type Command, Option } from 'commander';
import { type CheckFinding, type CheckResult, check, type SnapshotStats } from '../commands/check.js';
import { ExitCode } from '../errors.js';
import { collectRevisions, finishWith, printJson } from './context.js';
import { type OpenFlags, openOptions, withOpenFlags } from './open-flags.js';
import { phaseProgress } from './phase-progress.js';

interface Flags extends OpenFlags {
  all?: boolean;
  id?: string;
  r?: number[];
  tag?: string;
  fossils?: boolean;
  resurrect?: boolean;
  files?: boolean;
  chunks?: boolean;
  stats?: boolean;
  tabular?: boolean;
  persist?: boolean;
  fromCache?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  withOpenFlags(program.command('check').description('check that the chunks of revisions exist (and are intact); statistics'))
    .option('-a, --all', 'all snapshot ids on the storage')
    .option('--id <snapshot-id>', "this snapshot id (default: the repository's)")
    .option('-r <revision>', 'only this revision (repeatable, ranges like 5-9)', collectRevisions)
    .option('-t, --tag <tag>', 'only revisions with this tag')
    .addOption(new Option('--fossils', 'accepted for scripts written for Duplicacy: fossils are always looked for').hideHelp())
    .option('--resurrect', 'rename referenced fossils back into chunks')
    .option('--files', 'rebuild every file and compare its hash')
    .option('--chunks', 'download and verify every chunk not verified before')
    .option('--stats', 'statistics per revision and snapshot id (all ids, all revisions)')
    .option('--tabular', 'statistics as a table (implies --stats)')
    .option('--persist', 'go on after errors and report every affected file')
    .option('--from-cache', 'read the chunk list from the local cache instead of listing the storage')
    .option('--json', 'print the result as JSON')
    .action(async (f: Flags, cmd: Command) => {
      const progress = phaseProgress(!f.json);
      const stats = f.stats || f.tabular;
      const r = await check({
        ...openOptions(f, cmd),
        all: f.all ?? false,
        ...(f.id ? { snapshotId: f.id } : {}),
        ...(f.r ? { revisions: f.r } : {}),
        ...(f.tag !== undefined ? { tag: f.tag } : {}),
        resurrect: f.resurrect ?? false,
        files: f.files ?? false,
        chunks: f.chunks ?? false,
        stats: stats ?? false,
        persist: f.persist ?? false,
        ...(f.fromCache ? { fromCache: true } : {}),
        onProgress: (p) => progress.update(p.phase, p.done, p.total),
      }).finally(() => progress.stop());
      if (f.json) printJson(r);
      else process.stdout.write(report(r, f.tabular ? 'table' : stats ? 'text' : 'none'));
      finishWith(r.ok ? ExitCode.OK : ExitCode.PARTIAL);
    });
}

function report(r: CheckResult, stats: 'table' | 'text' | 'none'): string {
  const when = new Date(r.listing.listedAt).toISOString().slice(0, 16).replace('T', ' ');
  const lines = [
    `${r.revisions.length} revision${r.revisions.length === 1 ? '' : 's'} checked, ${r.referencedChunks} chunks referenced` +
      ` (chunk list ${r.listing.source === 'cache' ? `from the cache, listed ${when}` : 'from the storage'}: ${r.listing.chunks} chunks, ${r.listing.fossils} fossils)`,
  ];
  if (r.chunks) lines.push(`${r.chunks.verified} chunks downloaded and verified, ${r.chunks.alreadyVerified} verified before`);
  if (r.verifiedFiles !== undefined) lines.push(`${r.verifiedFiles} files verified`);
  for (const f of r.findings) lines.push(...describeFinding(f));
  if (r.stats && stats === 'table') lines.push(...statsTable(r.stats));
  if (r.stats && stats === 'text') lines.push(...statsText(r.stats));
  lines.push(r.ok ? 'all referenced chunks are present' : 'check FAILED: see above');
  return `${lines.join('\n')}\n`;
}

function describeFinding(f: CheckFinding): string[] {
  const level = f.severity === 'error' ? 'error' : 'warning';
  if (f.kind === 'file') return [`${level}: ${f.snapshotId} revision ${f.revision}: ${f.path || '(metadata)'}: ${f.detail}`];
  if (f.kind === 'revision') return [`${level}: ${f.snapshotId} revision ${f.revision}: ${f.detail}`];
  if (f.kind === 'record') return [`${level}: ${f.detail}`];
  const out = [`${level}: chunk ${f.chunkId}: ${f.detail}${f.resurrected ? ' (resurrected)' : ''}`];
  const refs = f.revisions.map((r) => `${r.snapshotId}@${r.revision}`);
  if (refs.length > 0) out.push(`  referenced by ${refs.join(', ')}`);
  for (const a of f.files) {
    if (a.metadata) out.push(`  ${a.snapshotId}@${a.revision}: holds the revision's metadata`);
    for (const p of a.paths) out.push(`  ${a.snapshotId}@${a.revision}: ${p}`);
  }
  return out;
}

/** Sizes as the table family of tools prints them: bytes, then K, then M, with thousands separators. */
export function tableSize(n: number): string {
  const group = (x: number) => Math.round(x).toLocaleString('en-US');
  if (n < 1024) return group(n);
  if (n < 1024 ** 3) return `${group(n / 1024)}K`;
  return `${group(n / 1024 ** 2)}M`;
}

const stamp = (ms: number) => `@ ${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}`;

function statsTable(stats: SnapshotStats[]): string[] {
  const header = ['snap', 'rev', '', 'files', 'bytes', 'chunks', 'bytes', 'uniq', 'bytes', 'new', 'bytes'];
  const rows: string[][] = [];
  for (const s of stats) {
    for (const r of s.revisions) {
      rows.push([
        s.snapshotId,
        String(r.revision),
        stamp(r.startTime),
        group(r.files),
        tableSize(r.fileBytes),
        group(r.chunks),
        tableSize(r.bytes),
        group(r.uniqueChunks),
        tableSize(r.uniqueBytes),
        group(r.newChunks),
        tableSize(r.newBytes),
      ]);
    }
    rows.push([s.snapshotId, 'all', '', '', '', group(s.all.chunks), tableSize(s.all.bytes), group(s.all.uniqueChunks), tableSize(s.all.uniqueBytes), '', '']);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => ` ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  return [line(header), ...rows.map(line)];
}

function statsText(stats: SnapshotStats[]): string[] {
  const out: string[] = [];
  for (const s of stats) {
    for (const r of s.revisions) {
      out.push(
        `${s.snapshotId} revision ${r.revision} ${stamp(r.startTime)}: ${group(r.files)} files (${tableSize(r.fileBytes)} bytes), ` +
          `${group(r.chunks)} chunks (${tableSize(r.bytes)}), ${group(r.uniqueChunks)} unique (${tableSize(r.uniqueBytes)}), ${group(r.newChunks)} new (${tableSize(r.newBytes)})`,
      );
    }
    out.push(`${s.snapshotId} all revisions: ${group(s.all.chunks)} chunks (${tableSize(s.all.bytes)}), ${group(s.all.uniqueChunks)} unique to it (${tableSize(s.all.uniqueBytes)})`);
  }
  return out;
}

const group = (n: number) => n.toLocaleString('en-US');
