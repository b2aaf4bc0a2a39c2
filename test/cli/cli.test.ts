// The dbk command line, spawned as a user runs it: one-dash and two-dash long options, --json
// output, exit codes, and a backup and restore through it.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function dbk(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, DBK_PASSWORD: 'cli-test' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('dbk CLI', () => {
  const root = tempDir();
  const repo = path.join(root, 'repo');
  const storage = path.join(root, 'storage');
  fs.mkdirSync(path.join(repo, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(repo, 'sub', 'b.bin'), Buffer.alloc(300_000, 7));

  it('initialises with one-dash long options and backs up with --json', () => {
    expect(dbk(repo, 'init', '-e', '-c', '64K', '-min', '16K', '-max', '256K', 'cli', storage).code).toBe(0);
    const r = dbk(repo, 'backup', '-threads', '2', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ revision: 1, files: 2, bytes: 300_006 });
  });

  it('lists files and restores a deleted file byte for byte', () => {
    const listed = JSON.parse(dbk(repo, 'list', '-files', '--json').out);
    expect(listed[0].files.map((f: { path: string }) => f.path)).toEqual(['a.txt', 'sub', 'sub/b.bin']);
    fs.rmSync(path.join(repo, 'sub'), { recursive: true });
    const r = dbk(repo, 'restore', '-r', '1', '--', 'sub/**');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'sub', 'b.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it('prints a file with cat and shows changes with diff', () => {
    expect(dbk(repo, 'cat', '-r', '1', 'a.txt').out).toBe('alpha\n');
    fs.writeFileSync(path.join(repo, 'a.txt'), 'alpha, changed\n');
    expect(dbk(repo, 'backup').code).toBe(0);
    expect(dbk(repo, 'diff', '-r', '1', '-r', '2').out).toBe('* a.txt\n');
  });

  it('exits 2 on a bad command line and 1 on a missing revision, with a one-line error', () => {
    expect(dbk(repo, 'backup', '-no-such-option').code).toBe(2);
    const r = dbk(repo, 'restore', '-r', '99');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')[0]).toMatch(/^dbk: revision 99 of 'cli' does not exist$/);
  });

  it('refuses to run outside a repository', () => {
    const r = dbk(root, 'backup');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not inside a dbk repository/);
  });

  it('fails with a clear message on a wrong password', () => {
    const other = path.join(root, 'other');
    fs.mkdirSync(other);
    const r = spawnSync(process.execPath, [CLI, 'init', 'cli', storage], { cwd: other, encoding: 'utf8', env: { ...process.env, DBK_PASSWORD: 'wrong' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/wrong password/);
  });
});
