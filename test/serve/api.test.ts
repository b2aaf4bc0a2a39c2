// dbk serve over real HTTP on 127.0.0.1: who gets in (token, cookie, Host, CSRF, origin), what the
// console's API answers (revisions, overview, a folder, a file, a .tar, a diff) and its jobs
// (backup with progress events to the end, a prune dry run's plan, one job per storage, a restore of
// chosen paths into a folder, cancelling), and the refusals (paths that leave a revision, a listen
// beyond loopback without TLS, a read-only server).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { makeRepo, put, seededBytes, type TestRepo } from '../support/engine.js';
import { makeSelfSignedCertificate } from '../support/graph-emulator/cert.js';
import { tempDir } from '../support/tmp.js';

let repo: TestRepo;
let server: RunningServer;
let base: string;
let auth: Record<string, string>;
let csrf: string;
const big = seededBytes(300_000, 'big');

beforeAll(async () => {
  repo = await makeRepo({ encrypt: true, chunkSize: 16 * 1024, minChunkSize: 4096, maxChunkSize: 65536 });
  put(repo.repoDir, 'docs/a/b/big.bin', big);
  put(repo.repoDir, 'docs/a/hello.txt', 'hello\n');
  put(repo.repoDir, 'docs/notes.txt', 'first\n');
  for (let i = 0; i < 30; i++) put(repo.repoDir, `many/f${String(i).padStart(2, '0')}.txt`, `file ${i}\n`);
  await backup(repo.open);
  put(repo.repoDir, 'docs/notes.txt', 'second, longer\n');
  put(repo.repoDir, 'docs/added.txt', 'new\n');
  await backup(repo.open);
  server = await startServer({ ...repo.open, listen: '127.0.0.1:0' });
  base = server.baseUrl.replace(/\/$/, '');
  auth = { authorization: `Bearer ${server.token}` };
  csrf = ((await (await fetch(`${base}/api/session`, { headers: auth })).json()) as { csrf: string }).csrf;
});

afterAll(async () => {
  await server?.close();
});

const get = (p: string, headers: Record<string, string> = auth) => fetch(`${base}${p}`, { headers });
const json = async <T>(p: string): Promise<T> => {
  const res = await get(p);
  expect(res.status, `${p}: ${res.status}`).toBeLessThan(300);
  return (await res.json()) as T;
};
const post = (p: string, body: unknown, headers: Record<string, string> = { ...auth, 'x-dbk-csrf': csrf }) =>
  fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

interface Job {
  id: string;
  kind: string;
  state: string;
  summary?: string;
  error?: string;
  progress?: { done: number; total?: number };
  result?: { plan?: string[]; restoredFiles?: number };
}

/** The job's server-sent events until `end`: the kinds seen and the job as it ended. */
async function eventsUntilEnd(id: string): Promise<{ kinds: string[]; end: Job }> {
  const res = await get(`/api/jobs/${id}/events`);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => ({ kind: block.slice(7, block.indexOf('\n')), data: JSON.parse(block.slice(block.indexOf('data: ') + 6)) }));
  const end = events.find((e) => e.kind === 'end');
  expect(end, text).toBeDefined();
  return { kinds: events.map((e) => e.kind), end: end!.data as Job };
}

/** The status of a GET sent with its path exactly as written. */
function rawStatus(rawPath: string, headers: Record<string, string> = auth): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .request({ host: url.hostname, port: url.port, path: rawPath, headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on('error', reject)
      .end();
  });
}

describe('who gets in', () => {
  it('refuses a request without the token, or with a wrong one; only WebDAV gets a Basic challenge', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { cookie: 'dbk_0123456789ab=wrong' }, { authorization: `Basic ${Buffer.from('u:wrong').toString('base64')}` }]) {
      const res = await get('/api/session', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBeNull(); // no login box over the console's tab
    }
    const dav = await get('/dav/', {});
    expect(dav.status).toBe(401);
    expect(dav.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await get('/', {})).status).toBe(401);
  });

  it('takes the token as a Bearer token, a Basic password, and a cookie set by the first visit', async () => {
    expect((await get('/api/session', { authorization: `Basic ${Buffer.from(`anyone:${server.token}`).toString('base64')}` })).status).toBe(200);
    const visit = await fetch(server.url, { redirect: 'manual' });
    expect(visit.status).toBe(303);
    expect(visit.headers.get('location')).toBe('/');
    const cookie = visit.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const res = await get('/api/session', { cookie: cookie.split(';')[0]! });
    expect(res.status).toBe(200);
    // a cookie of its own name: another server on this host (any port) neither reads nor overwrites it
    expect(cookie).toMatch(/^dbk_[0-9a-f]{12}=/);
    // a stale cookie of another server does not hide a valid token given otherwise
    expect((await get('/api/session', { cookie: 'dbk_0123456789ab=stale', ...auth })).status).toBe(200);
    expect(((await res.json()) as { storages: unknown[] }).storages).toEqual([{ name: 'default', url: repo.storageDir }]);
    const wrong = await fetch(`${base}/?token=nope`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
  });

  it('answers only requests naming a loopback host (DNS rebinding)', async () => {
    expect(await rawStatus('/api/session', { ...auth, host: 'evil.example:80' })).toBe(403);
    expect(await rawStatus('/api/session', { ...auth, host: `localhost:${new URL(base).port}` })).toBe(200);
    for (const host of ['127.evil.example', '127.0.0.1.evil.example:80', '127.0.0.1@evil.example']) expect(await rawStatus('/api/session', { ...auth, host }), host).toBe(403);
  });

  it('refuses a change without the CSRF header, with a wrong one, or from another origin', async () => {
    expect((await post('/api/jobs', { kind: 'check' }, auth)).status).toBe(403);
    expect((await post('/api/jobs', { kind: 'check' }, { ...auth, 'x-dbk-csrf': 'nope' })).status).toBe(403);
    expect((await post('/api/jobs', { kind: 'check' }, { ...auth, 'x-dbk-csrf': csrf, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post('/api/jobs', { kind: 'check' }, { ...auth, 'x-dbk-csrf': csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await fetch(`${base}/api/jobs`, { method: 'DELETE', headers: auth })).status).toBe(405);
  });

  it('refuses to listen beyond loopback without TLS, unless told -insecure', async () => {
    await expect(startServer({ ...repo.open, listen: '0.0.0.0:0' })).rejects.toThrow(/not a loopback address/);
    await expect(startServer({ ...repo.open, listen: 'localhost' })).rejects.toThrow(/host:port/);
  });
});

describe('what the console reads', () => {
  it('lists revisions and computes the overview from the caches', async () => {
    const revisions = await json<{ revision: number; files: number }[]>('/api/revisions?id=test');
    expect(revisions.map((r) => [r.revision, r.files])).toEqual([
      [1, 33],
      [2, 34],
    ]);
    let overview: { state: string; ids?: { id: string; revisionCount: number; revisions: { newBytes: number }[] }[] };
    for (;;) {
      overview = await json('/api/overview');
      if (overview.state === 'ready') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(overview.ids!.map((i) => [i.id, i.revisionCount])).toEqual([['test', 2]]);
    expect(overview.ids![0]!.revisions[0]!.newBytes).toBeGreaterThan(big.length);
  });

  it('lists a folder a page at a time, in order', async () => {
    const page = await json<{ total: number; entries: { name: string; type: string; size: number }[] }>('/api/tree?r=2&path=many&offset=10&limit=5');
    expect(page.total).toBe(30);
    expect(page.entries.map((e) => e.name)).toEqual(['f10.txt', 'f11.txt', 'f12.txt', 'f13.txt', 'f14.txt']);
    const top = await json<{ entries: { name: string; type: string }[] }>('/api/tree?r=1');
    expect(top.entries.map((e) => `${e.name}:${e.type}`)).toEqual(['docs:dir', 'many:dir']);
  });

  it('downloads a file, byte for byte, from any revision', async () => {
    const res = await get('/api/file?r=2&path=docs/a/b/big.bin');
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="big.bin"/);
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
    expect(await (await get('/api/file?r=1&path=docs/notes.txt')).text()).toBe('first\n');
    expect(await (await get('/api/file?r=2&path=docs/notes.txt')).text()).toBe('second, longer\n');
  });

  it('streams a folder as a .tar that tar reads back', async () => {
    const res = await get('/api/tar?r=2&path=docs/a');
    const out = tempDir('dbk-tar-');
    fs.writeFileSync(path.join(out, 'a.tar'), Buffer.from(await res.arrayBuffer()));
    execFileSync('tar', ['-xf', 'a.tar'], { cwd: out });
    expect(fs.readFileSync(path.join(out, 'a/b/big.bin')).equals(big)).toBe(true);
    expect(fs.readFileSync(path.join(out, 'a/hello.txt'), 'utf8')).toBe('hello\n');
  });

  it('diffs two revisions', async () => {
    const d = await json<{ items: { change: string; path: string }[] }>('/api/diff?from=1&to=2');
    expect(d.items.map((i) => `${i.change} ${i.path}`)).toEqual(['added docs/added.txt', 'changed docs/notes.txt']);
  });

  it('refuses paths that leave the revision, and answers 404 for what is not there', async () => {
    for (const p of ['..', 'docs/../..', '/etc/passwd', 'docs//a', './docs']) expect((await get(`/api/tree?r=2&path=${encodeURIComponent(p)}`)).status, p).toBe(400);
    expect((await get('/api/file?r=2&path=docs/nothing')).status).toBe(404);
    expect((await get('/api/file?r=9&path=docs/notes.txt')).status).toBe(404);
    expect((await get('/api/tree?r=2&path=docs/notes.txt')).status).toBe(400);
    expect((await get('/dav/default/test/2/docs%2Fa/hello.txt')).status).toBe(400);
    // sent as written: fetch would resolve the dots before sending
    expect(await rawStatus('/dav/default/test/2/docs/%2e%2e/docs/notes.txt')).toBe(400);
    expect(await rawStatus('/dav/default/test/2/docs/../../../etc/passwd')).toBe(400);
    expect(await rawStatus('/api/logs/..%2Fpreferences')).toBe(400);
    expect(await rawStatus('/../../etc/passwd')).toBe(400);
    expect(await rawStatus('/dav/default/test/2/docs\\..\\..\\x')).toBe(400);
    expect((await get('/api/revisions?id=..%2F..')).status).toBe(400);
    expect((await post('/api/jobs', { kind: 'restore', id: '../x', revision: 1 })).status).toBe(400);
  });
});

describe('jobs', () => {
  it('runs a backup to its end, with progress events, and lists it', async () => {
    put(repo.repoDir, 'docs/third.txt', seededBytes(200_000, 'third'));
    const started = await post('/api/jobs', { kind: 'backup' });
    expect(started.status).toBe(201);
    const { job } = (await started.json()) as { job: Job };
    expect((await post('/api/jobs', { kind: 'check' })).status).toBe(409);
    const { end } = await eventsUntilEnd(job.id);
    expect(end.state, end.error).toBe('done');
    expect(end.summary).toMatch(/^revision 3 of 'test' saved/);
    expect((await json<Job[]>('/api/jobs')).find((j) => j.id === job.id)?.state).toBe('done');
    expect((await json<{ files: number }[]>('/api/revisions')).length).toBe(3);
  });

  it("shows a prune dry run's plan and changes nothing", async () => {
    const { job } = (await (await post('/api/jobs', { kind: 'prune', keep: ['0:0'], dryRun: true })).json()) as { job: Job };
    const { end } = await eventsUntilEnd(job.id);
    expect(end.state, end.error).toBe('done');
    expect(end.result!.plan![0]).toMatch(/dry run/);
    expect(end.result!.plan!.some((l) => /^delete revision \d of test/.test(l))).toBe(true);
    expect((await json<unknown[]>('/api/revisions')).length).toBe(3);
    expect((await json<{ name: string }[]>('/api/logs')).some((l) => /^prune-.*-dry-run\.log$/.test(l.name))).toBe(true);
  });

  it('restores chosen paths into a folder inside the repository', async () => {
    const { job } = (await (await post('/api/jobs', { kind: 'restore', revision: 1, paths: ['docs/notes.txt', 'docs/a/b'], target: 'restored/r1' })).json()) as { job: Job };
    const { end } = await eventsUntilEnd(job.id);
    expect(end.state, end.error).toBe('done');
    const into = path.join(repo.repoDir, 'restored/r1');
    expect(fs.readFileSync(path.join(into, 'docs/notes.txt'), 'utf8')).toBe('first\n');
    expect(fs.readFileSync(path.join(into, 'docs/a/b/big.bin')).equals(big)).toBe(true);
    expect(fs.existsSync(path.join(into, 'docs/a/hello.txt'))).toBe(false);
    expect(fs.existsSync(path.join(into, 'many'))).toBe(false);
  });

  it('refuses a restore out of the repository or into .dbk, and a bad job', async () => {
    for (const target of ['../out', '/tmp/out', '.dbk/x']) {
      const res = await post('/api/jobs', { kind: 'restore', revision: 1, target });
      if (res.status === 201) {
        const { job } = (await res.json()) as { job: Job };
        const { end } = await eventsUntilEnd(job.id);
        expect(end.state, target).toBe('failed');
      } else expect(res.status, target).toBe(400);
    }
    expect(fs.existsSync(path.join(repo.repoDir, '.dbk/x'))).toBe(false);
    expect((await post('/api/jobs', { kind: 'format-disk' })).status).toBe(400);
    expect((await post('/api/jobs', { kind: 'prune', keep: ['x:y'] })).status).toBe(400);
    expect((await post('/api/jobs', { kind: 'backup', storage: 'elsewhere' })).status).toBe(404);
  });

  it('cancels a running job', async () => {
    for (let i = 0; i < 40; i++) put(repo.repoDir, `bulk/f${i}.bin`, seededBytes(100_000, `bulk${i}`));
    const { job } = (await (await post('/api/jobs', { kind: 'backup' })).json()) as { job: Job };
    const cancelled = await post(`/api/jobs/${job.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    const { end } = await eventsUntilEnd(job.id);
    expect(['cancelled', 'done']).toContain(end.state);
    fs.rmSync(path.join(repo.repoDir, 'bulk'), { recursive: true });
  });
});

describe('over TLS', () => {
  it('serves HTTPS with the given certificate, and the cookie is Secure', async () => {
    const pair = await makeSelfSignedCertificate();
    const dir = tempDir('dbk-tls-');
    fs.writeFileSync(path.join(dir, 'cert.pem'), pair.cert);
    fs.writeFileSync(path.join(dir, 'key.pem'), pair.key);
    await expect(startServer({ ...repo.open, listen: '127.0.0.1:0', tlsCert: path.join(dir, 'cert.pem') })).rejects.toThrow(/go together/);
    const tls = await startServer({ ...repo.open, listen: '127.0.0.1:0', tlsCert: path.join(dir, 'cert.pem'), tlsKey: path.join(dir, 'key.pem') });
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
      const visit = await new Promise<https.IncomingMessage>((resolve, reject) => https.get(tls.url, { ca: pair.cert }, resolve).on('error', reject));
      visit.resume();
      expect(visit.statusCode).toBe(303);
      expect(visit.headers['set-cookie']![0]).toMatch(/; Secure/);
    } finally {
      await tls.close();
    }
  });
});

describe('a read-only server', () => {
  it('runs no jobs but serves revisions', async () => {
    const ro = await startServer({ ...repo.open, listen: '127.0.0.1:0', readOnly: true });
    try {
      const h = { authorization: `Bearer ${ro.token}` };
      const session = (await (await fetch(`${ro.baseUrl}api/session`, { headers: h })).json()) as { csrf: string };
      const res = await fetch(`${ro.baseUrl}api/jobs`, { method: 'POST', headers: { ...h, 'x-dbk-csrf': session.csrf, 'content-type': 'application/json' }, body: '{"kind":"backup"}' });
      expect(res.status).toBe(403);
      expect(await (await fetch(`${ro.baseUrl}api/file?r=1&path=docs/notes.txt`, { headers: h })).text()).toBe('first\n');
    } finally {
      await ro.close();
    }
  });
});
