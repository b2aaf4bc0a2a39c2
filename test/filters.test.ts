// What a backup takes: .dbk/filters include/exclude rules, never .dbk/ itself, no fifos (skipped
// with a notice), and files that cannot be read reported as problems while the backup completes.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { Filters } from '../src/tree/filters.js';
import { joinRepo, makeRepo, put, revisionContents, type TestRepo } from './support/engine.js';

const isRoot = process.getuid?.() === 0;

function buildTree(root: string): void {
  for (const p of ['a.txt', 'b.tmp', 'sub/c.tmp', 'sub/d.txt', 'sub/deep/e.txt', 'cache/x.bin', 'logs/y.log', 'logs/keep.log', '.hidden']) put(root, p, `${p}\n`);
}

async function backedUp(repo: TestRepo, filters: string | undefined): Promise<string[]> {
  if (filters !== undefined) put(repo.repoDir, '.dbk/filters', filters);
  const r = await backup(repo.open);
  return (await revisionContents(repo, r.revision!)).entries.map((e) => (e.type === 'dir' ? `${e.path}/` : e.path));
}

describe('filters', () => {
  it('without a filters file, takes everything but .dbk/', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    expect(await backedUp(repo, undefined)).toEqual([
      '.hidden',
      'a.txt',
      'b.tmp',
      'cache/',
      'cache/x.bin',
      'logs/',
      'logs/keep.log',
      'logs/y.log',
      'sub/',
      'sub/c.tmp',
      'sub/d.txt',
      'sub/deep/',
      'sub/deep/e.txt',
    ]);
  });

  it('excludes what -patterns match, folders by a trailing slash, and ignores comments and blank lines', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    const filters = '# not in the backup\n-**/*.tmp\n\n-cache/\n   \n';
    expect(await backedUp(repo, filters)).toEqual(['.hidden', 'a.txt', 'logs/', 'logs/keep.log', 'logs/y.log', 'sub/', 'sub/d.txt', 'sub/deep/', 'sub/deep/e.txt']);
  });

  it('lets the first matching pattern decide', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    expect(await backedUp(repo, '+logs/keep.log\n-**/*.log\n')).toContain('logs/keep.log');
    expect(await backedUp(repo, '-**/*.log\n+logs/keep.log\n')).not.toContain('logs/keep.log');
  });

  it('with only +patterns, takes what they match and nothing else', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    const files = (await backedUp(repo, '+**/*.txt\n')).filter((p) => !p.endsWith('/'));
    expect(files).toEqual(['a.txt', 'sub/d.txt', 'sub/deep/e.txt']);
  });

  it('never backs up .dbk/, even when a pattern asks for it', async () => {
    const repo = await makeRepo();
    buildTree(repo.repoDir);
    put(repo.repoDir, '.dbk/secret-state', 'x');
    const all = await backedUp(repo, '+.dbk/**\n+.dbk/\n+**\n');
    expect(all.filter((p) => p.startsWith('.dbk'))).toEqual([]);
    expect(all).toContain('.hidden');
  });

  it('rejects a filters line that is neither + nor -, with USAGE', async () => {
    expect(() => Filters.parse('+ok\n*.tmp\n')).toThrow(expect.objectContaining({ code: 'USAGE' }));
    const repo = await makeRepo();
    put(repo.repoDir, '.dbk/filters', 'oops\n');
    await expect(backup(repo.open)).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('what cannot be backed up', () => {
  it('skips sockets with a notice, keeps fifos, and the backup completes', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'a\n');
    execFileSync('mkfifo', [path.join(repo.repoDir, 'pipe')]);
    fs.mkdirSync(path.join(repo.repoDir, 'sub'));
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(repo.repoDir, 'sub/socket'), resolve));
    try {
      const r = await backup(repo.open);
      expect(r.skipped.map((s) => s.path)).toEqual(['sub/socket']);
      expect(r.problems).toEqual([]);
      expect(r.revision).toBe(1);
    } finally {
      server.close();
    }
    const { entries } = await revisionContents(repo, 1);
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['a.txt', 'file'],
      ['pipe', 'fifo'],
      ['sub', 'dir'],
    ]);
  });

  it('reports a file that vanishes between scan and read, and backs up the rest', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'first\n');
    put(repo.repoDir, 'b-vanishes.bin', Buffer.alloc(5 << 20, 1));
    put(repo.repoDir, 'c.txt', 'last\n');
    let removed = false;
    const r = await backup({
      ...repo.open,
      onProgress: () => {
        // the first report comes after the scan, before any file is read
        if (removed) return;
        fs.rmSync(path.join(repo.repoDir, 'b-vanishes.bin'));
        removed = true;
      },
    });
    expect(r.revision).toBe(1);
    expect(r.problems.map((p) => p.path)).toEqual(['b-vanishes.bin']);
    expect(r.problems[0]!.reason).toMatch(/ENOENT/);
    expect(r.files).toBe(2);
    expect(r.readFiles).toBe(2);
    const target = await joinRepo(repo);
    const restored = await restore({ ...target.open, revision: 1 });
    expect(restored.restoredFiles).toBe(2);
    expect(fs.readFileSync(path.join(target.repoDir, 'c.txt'), 'utf8')).toBe('last\n');
    expect(fs.existsSync(path.join(target.repoDir, 'b-vanishes.bin'))).toBe(false);

    // the next backup, with the file gone for good, has no problem left
    const next = await backup(repo.open);
    expect(next.problems).toEqual([]);
    expect(next.readFiles).toBe(0);
  });

  it.skipIf(isRoot)('reports an unreadable file (chmod 000), and backs up the rest', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'a\n');
    put(repo.repoDir, 'locked.txt', 'no entry\n', { mode: 0o000 });
    put(repo.repoDir, 'z.txt', 'z\n');
    const r = await backup(repo.open);
    expect(r.problems.map((p) => p.path)).toEqual(['locked.txt']);
    expect(r.files).toBe(2);
  });

  it.skipIf(isRoot)('reports an unreadable folder, and backs up the rest', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'a\n');
    put(repo.repoDir, 'locked/inner.txt', 'no entry\n');
    fs.chmodSync(path.join(repo.repoDir, 'locked'), 0o000);
    const r = await backup(repo.open);
    fs.chmodSync(path.join(repo.repoDir, 'locked'), 0o755);
    expect(r.problems.map((p) => p.path)).toEqual(['locked']);
    expect(r.revision).toBe(1);
  });
});
