// dbk check and dbk prune as a user runs them: one-dash long options, the -tabular table, --json,
// exit codes, and two dbk processes sharing one cache.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const env = { ...process.env, DBK_PASSWORD: 'cli-test' };

function dbk(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function dbkAsync(cwd: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('dbk check and prune', () => {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const repo = path.join(root, 'docs');
  const rnd = seededRandom(4);
  fs.mkdirSync(repo);

  it('prints the statistics table with -tabular', () => {
    expect(dbk(repo, 'init', '-c', '1K', '-min', '256', '-max', '4K', 'docs', storage).code).toBe(0);
    fs.writeFileSync(path.join(repo, 'a.bin'), rnd.bytes(20_000));
    expect(dbk(repo, 'backup').code).toBe(0);
    fs.writeFileSync(path.join(repo, 'b.bin'), rnd.bytes(3000));
    expect(dbk(repo, 'backup').code).toBe(0);
    const r = dbk(repo, 'check', '-tabular', '-threads', '2');
    expect(r.code).toBe(0);
    const table = r.out.split('\n').filter((l) => l.includes('|'));
    expect(table[0]).toMatch(/^ snap \| rev \| +\| files \| +bytes \| chunks \| +bytes \| uniq \| +bytes \| +new \| +bytes \|$/);
    expect(table[1]).toMatch(/^ docs \| +1 \| @ \d{4}-\d\d-\d\d \d\d:\d\d \| +1 \| +20K \| /);
    expect(table[2]).toMatch(/^ docs \| +2 \| @ .* \| +2 \| +22K \| /);
    expect(table[3]).toMatch(/^ docs \| all \| +\| +\| +\| +\d+ \| +\d+K \| +\d+ \| +\d+K \| +\| +\|$/);
  });

  it('gives the result as JSON and reads the chunk list from the cache with -from-cache', () => {
    const r = JSON.parse(dbk(repo, 'check', '-stats', '-from-cache', '--json').out);
    expect(r.ok).toBe(true);
    expect(r.listing.source).toBe('cache');
    expect(r.stats[0].revisions.map((x: { files: number }) => x.files)).toEqual([1, 2]);
  });

  it('two processes checking with one cold cache both succeed and leave it sound', async () => {
    fs.rmSync(path.join(repo, '.dbk', 'cache'), { recursive: true, force: true });
    const [a, b] = await Promise.all([dbkAsync(repo, 'check', '-a', '-stats', '--json'), dbkAsync(repo, 'check', '-a', '-stats', '--json')]);
    expect([a.code, b.code, a.err, b.err]).toEqual([0, 0, '', '']);
    expect(JSON.parse(a.out).stats).toEqual(JSON.parse(b.out).stats);
    const again = dbk(repo, 'check', '-a', '-stats', '-from-cache', '--json');
    expect(JSON.parse(again.out).stats).toEqual(JSON.parse(a.out).stats);
  });

  it('prune -dry-run prints the plan; prune deletes; check exits 3 when a chunk is missing', () => {
    const dry = dbk(repo, 'prune', '-r', '1', '-dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/dry run/);
    expect(dry.out).toMatch(/delete revision 1 of docs: selected with -r/);
    expect(dry.out).toMatch(/ {2}fossilize chunk [0-9a-f]{64}/);
    expect(fs.readdirSync(path.join(storage, 'snapshots', 'docs')).sort()).toEqual(['1', '2']);
    const real = dbk(repo, 'prune', '-keep', '0:0', '-keep', '1:1'); // out of order on purpose
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/delete revision 1 of docs: -keep 0:0/);
    expect(fs.readdirSync(path.join(storage, 'snapshots', 'docs'))).toEqual(['2']);
    expect(fs.readdirSync(path.join(repo, '.dbk', 'logs')).length).toBe(2);

    const chunks = path.join(storage, 'chunks');
    const dir = fs.readdirSync(chunks).find((d) => fs.readdirSync(path.join(chunks, d)).some((f) => !f.endsWith('.fsl')))!;
    const victim = fs.readdirSync(path.join(chunks, dir)).find((f) => !f.endsWith('.fsl'))!;
    fs.rmSync(path.join(chunks, dir, victim));
    const broken = dbk(repo, 'check');
    expect(broken.code).toBe(3);
    expect(broken.out).toContain(`error: chunk ${dir}${victim}: the chunk does not exist`);
    expect(broken.out).toMatch(/referenced by docs@2/);
  });

  it('rejects a malformed -keep with exit code 2', () => {
    const r = dbk(repo, 'prune', '-keep', '7');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a retention policy/);
  });
});

describe('long output through a pipe', () => {
  it('arrives whole (more than a pipe buffer of JSON)', async () => {
    const { makeScaleFixture } = await import('../../bench/fixture-scale.js');
    const dir = tempDir();
    const { repoDir } = await makeScaleFixture(dir, { chunks: 3000, revisions: 210, ids: 7, refs: 40, churn: 0.05, seed: 2 });
    // a reader that starts late: the pipe fills up while dbk still has output to write
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" check -stats --json | (sleep 1; cat)`], { cwd: repoDir, encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(64 * 1024);
    const result = JSON.parse(r.stdout);
    expect(result.stats.flatMap((s: { revisions: unknown[] }) => s.revisions)).toHaveLength(210);
  });
});
