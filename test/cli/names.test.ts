// Names as a user meets them on the command line: `list -files` shows a name that is not UTF-8 or
// holds a newline on one line, --json carries its exact bytes, a restore pattern typed as `list`
// shows the name selects it, and -no-xattrs leaves extended attributes out.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readXattrs, writeXattr } from '../../src/tree/native-fs.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const env = { ...process.env, DBK_PASSWORD: 'cli-test' };
const dbk = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('names on the command line', () => {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const source = path.join(root, 'source');
  fs.mkdirSync(source);
  const bad = Buffer.concat([Buffer.from(`${source}/`), latin1('bad\xff\xfename')]);
  fs.writeFileSync(bad, 'not UTF-8\n');
  fs.writeFileSync(path.join(source, 'new\nline'), 'two lines\n');
  fs.writeFileSync(path.join(source, 'plain.txt'), 'plain\n');
  writeXattr(path.join(source, 'plain.txt'), 'user.note', Buffer.from('hello'));

  it('backs up a name that is not UTF-8 and lists every name on one line', () => {
    expect(dbk(source, 'init', 'names', storage).code).toBe(0);
    const b = dbk(source, 'backup');
    expect(b.code, b.err).toBe(0);
    const listed = dbk(source, 'list', '-files');
    expect(listed.code).toBe(0);
    const lines = listed.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4); // the revision and its three files
    expect(lines.some((l) => l.endsWith(' bad\\xff\\xfename'))).toBe(true);
    expect(lines.some((l) => l.endsWith(' new\\x0aline'))).toBe(true);
  });

  it('gives the exact bytes in JSON beside the displayed name', () => {
    const listed = dbk(source, 'list', '-files', '-json');
    const files = (JSON.parse(listed.out) as { files: { path: string; pathBase64?: string }[] }[])[0]!.files;
    const odd = files.find((f) => f.pathBase64 !== undefined)!;
    expect(odd.path).toBe('bad\\xff\\xfename');
    expect(Buffer.from(odd.pathBase64!, 'base64')).toEqual(latin1('bad\xff\xfename'));
    expect(files.find((f) => f.path === 'new\nline')?.pathBase64).toBeUndefined(); // JSON carries a newline itself
  });

  it('restores what a pattern typed as list shows it selects, with its bytes', () => {
    const target = path.join(root, 'target');
    fs.mkdirSync(target);
    expect(dbk(target, 'init', 'names', storage).code).toBe(0);
    const r = dbk(target, 'restore', '-r', '1', 'bad\\xff*');
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(target, { encoding: 'buffer' }).filter((n) => n.toString() !== '.dbk')).toEqual([latin1('bad\xff\xfename')]);
    expect(fs.readFileSync(Buffer.concat([Buffer.from(`${target}/`), latin1('bad\xff\xfename')]), 'utf8')).toBe('not UTF-8\n');
  });

  it('keeps extended attributes unless told not to, at backup or at restore', () => {
    const restoreInto = (name: string, ...flags: string[]) => {
      const target = path.join(root, name);
      fs.mkdirSync(target);
      expect(dbk(target, 'init', 'names', storage).code).toBe(0);
      expect(dbk(target, 'restore', '-r', String(revision), ...flags).code).toBe(0);
      return readXattrs(path.join(target, 'plain.txt')).map((x) => `${x.name}=${x.value}`);
    };
    let revision = 1;
    expect(restoreInto('with')).toEqual(['user.note=hello']);
    expect(restoreInto('without', '-no-xattrs')).toEqual([]);
    expect(dbk(source, 'backup', '-no-xattrs').code).toBe(0);
    revision = 2;
    expect(restoreInto('never-kept')).toEqual([]);
  });
});
