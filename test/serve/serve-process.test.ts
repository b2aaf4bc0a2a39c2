// dbk serve as a real process: a backup job started from the console and the server killed with
// SIGKILL half-way leaves a storage that check passes and that the next backup completes; Ctrl-C
// (SIGTERM) cancels a running job cleanly (its announcement withdrawn) and the server exits 0.

import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const env = { ...process.env, DBK_PASSWORD: 'serve-test' };

function dbk(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Served {
  child: ChildProcessWithoutNullStreams;
  base: string;
  headers: Record<string, string>;
  exited: Promise<number | null>;
}

async function serve(cwd: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '-listen', '127.0.0.1:0'], { cwd, env });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on('data', (d) => (out += String(d)));
    void exited.then(() => reject(new Error(`dbk serve ended: ${out}`)));
  });
  const token = new URL(url).searchParams.get('token')!;
  const base = url.slice(0, url.indexOf('/?'));
  const auth = { authorization: `Bearer ${token}` };
  const { csrf } = (await (await fetch(`${base}/api/session`, { headers: auth })).json()) as { csrf: string };
  return { child, base, exited, headers: { ...auth, 'x-dbk-csrf': csrf, 'content-type': 'application/json' } };
}

/** Starts a backup job and waits until it has read some of its bytes. */
async function backupUnderWay(s: Served): Promise<void> {
  const res = await fetch(`${s.base}/api/jobs`, { method: 'POST', headers: s.headers, body: JSON.stringify({ kind: 'backup' }) });
  expect(res.status).toBe(201);
  const { job } = (await res.json()) as { job: { id: string } };
  for (;;) {
    const now = (await (await fetch(`${s.base}/api/jobs/${job.id}`, { headers: s.headers })).json()) as { state: string; progress?: { done: number } };
    expect(now.state).toBe('running');
    if ((now.progress?.done ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function makeTree(): { repo: string; storage: string } {
  const root = tempDir('dbk-serve-proc-');
  const repo = path.join(root, 'repo');
  const storage = path.join(root, 'storage');
  for (let i = 0; i < 24; i++) {
    fs.mkdirSync(path.join(repo, `d${i % 4}`), { recursive: true });
    fs.writeFileSync(path.join(repo, `d${i % 4}`, `f${i}.bin`), seededBytes(1_000_000, `f${i}`));
  }
  expect(dbk(repo, 'init', '-e', '-c', '64K', '-min', '16K', '-max', '256K', 'served', storage).code).toBe(0);
  return { repo, storage };
}

describe('dbk serve as a process', () => {
  it('killed (SIGKILL) during a backup job: the storage checks, and the next backup completes and restores', async () => {
    const { repo, storage } = makeTree();
    const s = await serve(repo);
    await backupUnderWay(s);
    s.child.kill('SIGKILL');
    await s.exited;
    const check = dbk(repo, 'check', '-a');
    expect(check.code, check.out + check.err).toBe(0);
    const again = dbk(repo, 'backup');
    expect(again.code, again.err).toBe(0);
    const target = path.join(path.dirname(repo), 'restored');
    fs.mkdirSync(target);
    expect(dbk(target, 'init', 'served', storage).code).toBe(0);
    const restored = dbk(target, 'restore', '-r', again.out.match(/revision (\d+)/)![1]!);
    expect(restored.code, restored.err).toBe(0);
    for (let i = 0; i < 24; i++) expect(fs.readFileSync(path.join(target, `d${i % 4}`, `f${i}.bin`)).equals(seededBytes(1_000_000, `f${i}`))).toBe(true);
  });

  it('stopped with SIGTERM during a backup job: the job is cancelled, its announcement withdrawn, and the server exits 0', async () => {
    const { repo, storage } = makeTree();
    const s = await serve(repo);
    await backupUnderWay(s);
    expect(fs.readdirSync(path.join(storage, 'running')).length).toBe(1);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(fs.readdirSync(path.join(storage, 'running'))).toEqual([]);
    expect(dbk(repo, 'check', '-a').code).toBe(0);
  });
});
