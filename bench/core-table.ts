// Turns the JSON lines of one bench/core.sh corpus run (peers.sh's lines for restic and borg, and
// the same shape for dbk) into a markdown table with dbk's ratios to the peers, and checks the
// targets of issue 2. usage: node dist/bench/core-table.js RESULTS.jsonl TITLE
// With --files N (bench/files.sh: N tiny files), the table and targets of issue 15 instead: each
// step's peak RSS ≤ 300 MB and wall ≤ 0.5 × restic, and dbk's peak RSS per file.
//   usage: node dist/bench/core-table.js --files N RESULTS.jsonl TITLE

import { readFileSync } from 'node:fs';

interface Metrics {
  wall_s: number;
  user_s: number;
  sys_s: number;
  max_rss_kb: number;
}

interface StepLine {
  tool: string;
  step: string;
  metrics: Metrics;
  repo_bytes: number;
}

interface VerifyLine {
  tool: string;
  step: 'verify';
  identical: boolean;
  detail?: string;
}

type Line = StepLine | VerifyLine;

const STEPS = ['initial', 'unchanged', 'restore'] as const;
const TOOLS = ['restic', 'borg', 'dbk'] as const;
/** a step's figures as table columns: wall s, CPU s, peak RSS MB, stored MB */
type Row = [number, number, number, number];

const MB = 1e6;

function rowOf(l: StepLine): Row {
  const m = l.metrics;
  return [m.wall_s, m.user_s + m.sys_s, (m.max_rss_kb * 1024) / MB, l.repo_bytes / MB];
}

const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? NaN : a / b);
const minOf = (a: Row | undefined, b: Row | undefined): Row | undefined => {
  if (!a || !b) return a ?? b;
  return a.map((v, i) => Math.min(v, b[i]!)) as Row;
};

function render(lines: Line[], title: string): string {
  const steps = new Map<string, Row>();
  for (const l of lines) if (l.step !== 'verify') steps.set(`${l.tool}/${l.step}`, rowOf(l as StepLine));
  const out = [`### ${title}`, '', '| tool | step | wall s | CPU s | peak RSS MB | stored MB |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const step of STEPS) {
    for (const tool of TOOLS) {
      const r = steps.get(`${tool}/${step}`);
      if (r) out.push(`| ${tool} | ${step} | ${fixed(r[0], 1)} | ${fixed(r[1], 1)} | ${fixed(r[2], 0)} | ${fixed(r[3], 1)} |`);
    }
    const dbk = steps.get(`dbk/${step}`);
    if (!dbk) continue;
    const restic = steps.get(`restic/${step}`);
    const best = minOf(restic, steps.get(`borg/${step}`));
    out.push(`| *dbk/restic* | ${step} | ${dbk.map((v, i) => fixed(ratio(v, restic?.[i]), 2)).join(' | ')} |`);
    out.push(`| *dbk/min(restic,borg)* | ${step} | ${dbk.map((v, i) => fixed(ratio(v, best?.[i]), 2)).join(' | ')} |`);
  }
  out.push('', ...targets(steps, lines));
  return `${out.join('\n')}\n`;
}

/** The targets of issue 2, each as a line saying whether this run met it. */
function targets(steps: Map<string, Row>, lines: Line[]): string[] {
  const at = (tool: string, step: string, col: number) => steps.get(`${tool}/${step}`)?.[col] ?? NaN;
  const bestInitial = Math.min(at('restic', 'initial', 0), at('borg', 'initial', 0));
  const rss = Math.max(...STEPS.map((s) => at('dbk', s, 2)));
  const stored = ratio(at('dbk', 'restore', 3), at('restic', 'restore', 3));
  const checks: [string, number, number][] = [
    ['initial backup wall ≤ 0.5 × min(restic, borg)', at('dbk', 'initial', 0), 0.5 * bestInitial],
    ['unchanged backup wall ≤ 0.5 × restic', at('dbk', 'unchanged', 0), 0.5 * at('restic', 'unchanged', 0)],
    ['restore wall ≤ restic', at('dbk', 'restore', 0), at('restic', 'restore', 0)],
    ['peak RSS ≤ 300 MB', rss, 300],
    ['stored bytes ≤ 1.10 × restic (ratio shown)', stored, 1.1],
  ];
  const out = checks.map(([what, got, limit]) => `- ${got <= limit ? 'met' : 'MISSED'}: ${what} (dbk ${fixed(got, 2)}, limit ${fixed(limit, 2)})`);
  for (const l of lines) {
    if (l.step === 'verify') out.push(`- restored tree of ${l.tool} ${(l as VerifyLine).identical ? 'byte-identical to the source' : `DIFFERS from the source: ${(l as VerifyLine).detail ?? ''}`}`);
  }
  return out;
}

/** issue 15's table: a row per step with restic (and borg, when it ran) beside dbk, and whether each target is met. */
function renderFiles(lines: Line[], title: string, files: number): string {
  const steps = new Map<string, Row>();
  for (const l of lines) if (l.step !== 'verify') steps.set(`${l.tool}/${l.step}`, rowOf(l as StepLine));
  const borg = lines.some((l) => l.tool === 'borg');
  const figures = (r: Row | undefined) => (r ? `${fixed(r[0], 1)} / ${fixed(r[1], 1)} / ${fixed(r[2], 0)}` : '—');
  const out = [
    `### ${title}`,
    '',
    `| files | step | restic wall s / CPU s / RSS MB |${borg ? ' borg |' : ''} dbk wall s / CPU s / RSS MB | dbk / restic wall | dbk RSS B/file | RSS ≤ 300 MB | wall ≤ 0.5 × restic |`,
    `| ---: | --- | ---: |${borg ? ' ---: |' : ''} ---: | ---: | ---: | --- | --- |`,
  ];
  const verdict = (got: number, limit: number) => (Number.isNaN(got) ? '—' : got <= limit ? 'met' : 'MISSED');
  for (const step of STEPS) {
    const restic = steps.get(`restic/${step}`);
    const dbk = steps.get(`dbk/${step}`);
    const wall = ratio(dbk?.[0] ?? NaN, restic?.[0]);
    const rss = dbk?.[2] ?? NaN;
    out.push(
      `| ${files} | ${step} | ${figures(restic)} |${borg ? ` ${figures(steps.get(`borg/${step}`))} |` : ''} ${figures(dbk)} | ${fixed(wall, 2)} | ${fixed((rss * MB) / files, 0)} | ${verdict(rss, 300)} | ${verdict(wall, 0.5)} |`,
    );
  }
  const stored = (tool: string) => fixed(steps.get(`${tool}/restore`)?.[3] ?? NaN, 1);
  out.push('', `Stored MB: restic ${stored('restic')}${borg ? `, borg ${stored('borg')}` : ''}, dbk ${stored('dbk')}.`);
  for (const l of lines) {
    if (l.step === 'verify') out.push(`Restored tree of ${l.tool} ${(l as VerifyLine).identical ? 'byte-identical to the source' : `DIFFERS from the source: ${(l as VerifyLine).detail ?? ''}`}.`);
  }
  return `${out.join('\n')}\n`;
}

function main(argv: string[]): number {
  const files = argv[0] === '--files' ? Number(argv[1]) : undefined;
  const [file, title] = files === undefined ? argv : argv.slice(2);
  if (!file || !title || (files !== undefined && !(files > 0))) {
    process.stderr.write('usage: core-table.js [--files N] RESULTS.jsonl TITLE\n');
    return 2;
  }
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
  process.stdout.write(files === undefined ? render(lines, title) : renderFiles(lines, title, files));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
