// The Graph emulator's wire format, checked with raw HTTPS requests: what a client of the real
// service would send, and what the reference (onedrive-graph.md) says comes back.

import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedFromDir } from '../support/graph-emulator/populate.js';
import { GraphEmulator } from '../support/graph-emulator/server.js';
import { tempDir } from '../support/tmp.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: the Graph answers are checked field by field by the tests
  json: any;
}

let emu: GraphEmulator;
let agent: Agent;
const auth = { Authorization: 'Bearer test-token' };

function call(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string | object): Promise<Reply> {
  const data = body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const target = url.startsWith('https://') ? url : `${emu.url}/v1.0${url}`;
  return new Promise((resolve, reject) => {
    const req = request(target, { method, agent, headers: { ...headers, ...(data ? { 'Content-Length': String(data.length) } : {}) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const buf = Buffer.concat(parts);
        const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: isJson ? JSON.parse(buf.toString()) : undefined });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const graph = (method: string, url: string, body?: Buffer | string | object, headers: Record<string, string> = {}) => call(method, url, { ...auth, ...headers }, body);

beforeAll(async () => {
  emu = await GraphEmulator.start();
  agent = new Agent({ ca: emu.certificate, keepAlive: true });
});
afterAll(async () => {
  agent.destroy();
  await emu.close();
});
beforeEach(() => {
  emu.faults.resetCounters();
  Object.assign(emu.knobs, { throttleEveryNth: 0, innerThrottleEveryNth: 0, unavailableEveryNth: 0, dropEveryNth: 0, unitsPerWindow: 0, auth: 'any' });
});

describe('items', () => {
  it('creates folders with conflict behaviour and addresses items by path and by id', async () => {
    const made = await graph('POST', '/me/drive/root/children', { name: 'Docs', folder: {}, '@microsoft.graph.conflictBehavior': 'fail' });
    expect(made.status).toBe(201);
    expect(made.json.folder).toEqual({ childCount: 0 });
    const again = await graph('POST', '/me/drive/root/children', { name: 'docs', folder: {}, '@microsoft.graph.conflictBehavior': 'fail' });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('nameAlreadyExists');
    expect(again.json.error.innerError['request-id']).toBeTruthy();
    const renamed = await graph('POST', '/me/drive/root:/:/children', { name: 'Docs', folder: {}, '@name.conflictBehavior': 'rename' });
    expect(renamed.json.name).toBe('Docs 1');

    const byPath = await graph('GET', '/me/drive/root:/DOCS');
    expect(byPath.json.id).toBe(made.json.id);
    expect(byPath.json.parentReference).toMatchObject({ path: '/drive/root:', driveId: emu.drive.driveId });
    const byId = await graph('GET', `/drives/${emu.drive.driveId}/items/${encodeURIComponent(made.json.id)}?$select=name,folder`);
    expect(byId.json).toEqual({ name: 'Docs', folder: { childCount: 0 } });
    const sub = await graph('POST', `/me/drive/items/${made.json.id}/children`, { name: 'a b', folder: {} });
    expect(sub.json.parentReference.path).toBe('/drive/root:/Docs');
    const relative = await graph('GET', `/me/drive/items/${made.json.id}:/a%20b:`);
    expect(relative.json.id).toBe(sub.json.id);
  });

  it('answers a missing item with 404 itemNotFound in the service error shape', async () => {
    const r = await graph('GET', '/me/drive/root:/no/such/thing');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: { code: 'itemNotFound', message: expect.any(String), innerError: { date: expect.any(String) } } });
    expect((await graph('GET', '/drives/otherdrive/root')).status).toBe(404);
  });

  it('refuses names with characters OneDrive does not allow', async () => {
    expect((await graph('POST', '/me/drive/root/children', { name: 'a*b', folder: {} })).status).toBe(400);
    expect((await graph('PUT', '/me/drive/root:/a%3Fb:/content', 'x')).status).toBe(400);
  });
});

describe('children paging', () => {
  beforeAll(() => {
    for (let i = 0; i < 25; i++) emu.drive.addFile(`paged/f${String(i).padStart(2, '0')}`, Buffer.alloc(i));
    emu.drive.mkdirs('paged/sub');
  });

  it('pages with $top and absolute @odata.nextLink until it is absent, and applies $select', async () => {
    const names: string[] = [];
    let url: string | undefined = '/me/drive/root:/paged:/children?$top=10&$select=name,size,folder,file';
    let pages = 0;
    while (url) {
      const r = await graph('GET', url);
      expect(r.status).toBe(200);
      for (const item of r.json.value) {
        expect(Object.keys(item).every((k) => ['name', 'size', 'folder', 'file'].includes(k))).toBe(true);
        names.push(item.name);
      }
      url = r.json['@odata.nextLink'];
      if (url) expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/drives\/.*\$top=10/);
      pages++;
    }
    expect(pages).toBe(3);
    expect(names.sort()).toEqual([...Array.from({ length: 25 }, (_, i) => `f${String(i).padStart(2, '0')}`), 'sub'].sort());
  });

  it('defaults to 200 items a page and refuses $top above 1000', async () => {
    const r = await graph('GET', '/me/drive/root:/paged:/children');
    expect(r.json.value).toHaveLength(26);
    expect(r.json['@odata.nextLink']).toBeUndefined();
    expect((await graph('GET', '/me/drive/root:/paged:/children?$top=1001')).status).toBe(400);
  });

  it('does not skip survivors when items are deleted between pages', async () => {
    const first = await graph('GET', '/me/drive/root:/paged:/children?$top=5&$select=name');
    await graph('DELETE', '/me/drive/root:/paged/f00');
    await graph('DELETE', '/me/drive/root:/paged/f01');
    const second = await graph('GET', first.json['@odata.nextLink']);
    expect(second.json.value[0].name).toBe('f05');
  });
});

describe('seeding from a local folder', () => {
  it('copies a folder tree below a root, byte for byte, and serves it', async () => {
    const local = tempDir('dbk-emu-seed-');
    mkdirSync(path.join(local, 'chunks', 'ab'), { recursive: true });
    mkdirSync(path.join(local, 'empty'));
    writeFileSync(path.join(local, 'config'), 'config bytes');
    writeFileSync(path.join(local, 'chunks', 'ab', 'cdef'), Buffer.from([0, 1, 2, 255]));
    expect(seedFromDir(emu.drive, 'seeded/store', local)).toBe(2);
    expect(emu.drive.fileAt('seeded/store/config')?.toString()).toBe('config bytes');
    expect(emu.drive.fileAt('seeded/store/chunks/ab/cdef')).toEqual(Buffer.from([0, 1, 2, 255]));
    const top = await graph('GET', '/me/drive/root:/seeded/store:/children?$select=name,size,folder');
    expect(top.json.value.map((i: { name: string }) => i.name).sort()).toEqual(['chunks', 'config', 'empty']);
    const chunk = await graph('GET', '/me/drive/root:/seeded/store/chunks/ab:/children?$select=name,size');
    expect(chunk.json.value).toEqual([{ name: 'cdef', size: 4 }]);
  });
});

describe('uploads and downloads', () => {
  it('simple upload: 201 new, 200 replaced, 409 with conflictBehavior=fail, any content type', async () => {
    const created = await graph('PUT', '/me/drive/root:/up/one.bin:/content', 'x', { 'Content-Type': 'application/json' });
    expect(created.status).toBe(404); // the parent folder must exist
    await graph('POST', '/me/drive/root/children', { name: 'up', folder: {} });
    const put = await graph('PUT', '/me/drive/root:/up/one.bin:/content', Buffer.from('first'), { 'Content-Type': 'application/json' });
    expect(put.status).toBe(201);
    expect(put.json).toMatchObject({ name: 'one.bin', size: 5, file: {} });
    const replaced = await graph('PUT', '/me/drive/root:/up/one.bin:/content', Buffer.from('second'));
    expect(replaced.status).toBe(200);
    const refused = await graph('PUT', '/me/drive/root:/up/one.bin:/content?@microsoft.graph.conflictBehavior=fail', Buffer.from('third'));
    expect(refused.status).toBe(409);
    expect(emu.drive.fileAt('up/one.bin')?.toString()).toBe('second');
  });

  it('downloads by 302 to a URL that serves the bytes only without a bearer token', async () => {
    emu.drive.addFile('dl/file', Buffer.from('the bytes'));
    const r = await graph('GET', '/me/drive/root:/dl/file:/content');
    expect(r.status).toBe(302);
    const location = String(r.headers.location);
    expect((await call('GET', location)).body.toString()).toBe('the bytes');
    expect((await call('GET', location, auth)).status).toBe(401);
  });

  it('upload sessions: fragments of 320 KiB multiples in order, status, commit, conflict at commit', async () => {
    emu.drive.mkdirs('big');
    const data = Buffer.alloc(3 * 327_680 + 1000, 7);
    const session = await graph('POST', '/me/drive/root:/big/file.bin:/createUploadSession', {
      item: { '@microsoft.graph.conflictBehavior': 'fail' },
    });
    expect(session.status).toBe(200);
    const uploadUrl = session.json.uploadUrl as string;
    const range = (s: number, e: number) => ({ 'Content-Range': `bytes ${s}-${e - 1}/${data.length}` });
    expect((await call('PUT', uploadUrl, { ...range(0, 1000) }, data.subarray(0, 1000))).status).toBe(400); // not a 320 KiB multiple
    expect((await call('PUT', uploadUrl, { ...auth, ...range(0, 327_680) }, data.subarray(0, 327_680))).status).toBe(401);
    const first = await call('PUT', uploadUrl, range(0, 655_360), data.subarray(0, 655_360));
    expect(first.status).toBe(202);
    expect(first.json.nextExpectedRanges).toEqual(['655360-']);
    expect((await call('PUT', uploadUrl, range(0, 327_680), data.subarray(0, 327_680))).status).toBe(416);
    expect((await call('GET', uploadUrl)).json.nextExpectedRanges).toEqual(['655360-']);
    emu.drive.addFile('big/file.bin', Buffer.from('someone was faster'));
    const last = await call('PUT', uploadUrl, range(655_360, data.length), data.subarray(655_360));
    expect(last.status).toBe(409);
    expect((await call('GET', uploadUrl)).status).toBe(404);

    const again = await graph('POST', '/me/drive/root:/big/file2.bin:/createUploadSession', { item: { '@microsoft.graph.conflictBehavior': 'fail' } });
    for (let s = 0; s < data.length; s += 655_360) {
      const e = Math.min(data.length, s + 655_360);
      const r = await call('PUT', again.json.uploadUrl, range(s, e), data.subarray(s, e));
      expect(r.status).toBe(e === data.length ? 201 : 202);
    }
    expect(emu.drive.fileAt('big/file2.bin')?.equals(data)).toBe(true);
  });

  it('answers 507 quotaLimitReached when the drive is full', async () => {
    emu.knobs.quotaBytes = emu.drive.usedBytes + 10;
    try {
      const r = await graph('PUT', '/me/drive/root:/full.bin:/content', Buffer.alloc(11));
      expect(r.status).toBe(507);
      expect(r.json.error.code).toBe('quotaLimitReached');
    } finally {
      emu.knobs.quotaBytes = 2 ** 40;
    }
  });
});

describe('move, rename, delete', () => {
  it('renames and moves with PATCH; a taken name is 409; DELETE is 204 then 404', async () => {
    emu.drive.addFile('mv/a', Buffer.from('A'));
    emu.drive.addFile('mv/b', Buffer.from('B'));
    const dest = emu.drive.mkdirs('mv/dest');
    expect((await graph('PATCH', '/me/drive/root:/mv/a', { name: 'b' })).status).toBe(409);
    const renamed = await graph('PATCH', '/me/drive/root:/mv/a', { name: 'a.fsl' });
    expect(renamed.status).toBe(200);
    expect(renamed.json.name).toBe('a.fsl');
    const moved = await graph('PATCH', '/me/drive/root:/mv/a.fsl', { parentReference: { id: dest.id }, name: 'c' });
    expect(moved.json.parentReference.path).toBe('/drive/root:/mv/dest');
    const byPath = await graph('PATCH', '/me/drive/root:/mv/b', { parentReference: { path: '/drive/root:/mv/dest' } });
    expect(byPath.status).toBe(200);
    expect(emu.drive.fileAt('mv/dest/c')?.toString()).toBe('A');
    expect((await graph('DELETE', '/me/drive/root:/mv/dest/c')).status).toBe(204);
    expect((await graph('DELETE', '/me/drive/root:/mv/dest/c')).status).toBe(404);
  });
});

describe('$batch', () => {
  it('answers up to 20 requests by id in another order, and refuses 21', async () => {
    emu.drive.addFile('bt/x', Buffer.from('x'));
    const requests = Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, method: 'GET', url: i % 2 ? '/me/drive/root:/bt/x' : 'me/drive/root:/bt/none' }));
    const r = await graph('POST', '/$batch', { requests });
    expect(r.status).toBe(200);
    const ids = r.json.responses.map((x: { id: string }) => x.id);
    expect(ids).not.toEqual(requests.map((x) => x.id));
    expect(new Set(ids)).toEqual(new Set(requests.map((x) => x.id)));
    for (const res of r.json.responses) expect(res.status).toBe(Number(res.id.slice(1)) % 2 ? 200 : 404);
    expect((await graph('POST', '/$batch', { requests: [...requests, { id: 'r20', method: 'GET', url: '/me/drive' }] })).status).toBe(400);
    expect((await graph('POST', '/$batch', { requests: [requests[0], requests[0]] })).status).toBe(400);
  });

  it('throttles inner requests on their own, with Retry-After in the inner headers', async () => {
    Object.assign(emu.knobs, { innerThrottleEveryNth: 2, innerThrottleRetryAfter: '0.5' });
    const requests = Array.from({ length: 4 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/me/drive/root' }));
    const r = await graph('POST', '/$batch', { requests });
    const statuses = r.json.responses.map((x: { status: number }) => x.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429]);
    const throttled = r.json.responses.find((x: { status: number }) => x.status === 429);
    expect(throttled.headers['Retry-After']).toBe('0.5');
    expect(throttled.body.error.code).toBe('activityLimitReached');
  });

  it('fails dependent requests with 424 and refuses a body without Content-Type', async () => {
    const r = await graph('POST', '/$batch', {
      requests: [
        { id: '1', method: 'GET', url: '/me/drive/root:/missing' },
        { id: '2', method: 'GET', url: '/me/drive/root', dependsOn: ['1'] },
      ],
    });
    expect(r.json.responses.find((x: { id: string }) => x.id === '2').status).toBe(424);
    const bad = await graph('POST', '/$batch', { requests: [{ id: '1', method: 'POST', url: '/me/drive/root/children', body: { name: 'q', folder: {} } }] });
    expect(bad.status).toBe(400);
  });
});

describe('faults and counters', () => {
  it('throttles every Nth request with Retry-After and counts requests by kind', async () => {
    Object.assign(emu.knobs, { throttleEveryNth: 3, throttleRetryAfter: '0.2' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await graph('GET', '/me/drive/root:/?$select=name')).status);
    expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
    const r = await graph('GET', '/me/drive/root');
    expect(r.status).toBe(200);
    const c = emu.counters;
    expect(c.requests).toBe(7);
    expect(c.byKind.item).toBe(7);
    expect(c.throttled).toBe(2);
  });

  it('sends 503 bursts, with or without Retry-After', async () => {
    Object.assign(emu.knobs, { unavailableEveryNth: 4, unavailableBurst: 2, unavailableRetryAfter: '' });
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await graph('GET', '/me/drive'));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 503, 503]);
    expect(replies[2]!.headers['retry-after']).toBeUndefined();
  });

  it('meters resource units and says when the budget frees', async () => {
    Object.assign(emu.knobs, { unitsPerWindow: 4, windowMs: 1000 });
    const first = await graph('GET', '/me/drive/root/children');
    const second = await graph('GET', '/me/drive/root/children');
    const third = await graph('GET', '/me/drive/root/children');
    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(third.headers['retry-after'])).toBeLessThanOrEqual(1);
  });

  it('drops connections before or after carrying a request out', async () => {
    emu.faults.failNext('createFolder', { drop: 'before' });
    await expect(graph('POST', '/me/drive/root/children', { name: 'dropped1', folder: {} })).rejects.toThrow();
    expect(emu.drive.fileAt('dropped1')).toBeUndefined();
    expect(emu.drive.resolve(emu.drive.root, ['dropped1'])).toBeUndefined();
    emu.faults.failNext('createFolder', { drop: 'after' });
    await expect(graph('POST', '/me/drive/root/children', { name: 'dropped2', folder: {} })).rejects.toThrow();
    expect(emu.drive.resolve(emu.drive.root, ['dropped2'])?.isFolder).toBe(true);
    expect(emu.counters.dropped).toBeGreaterThanOrEqual(2);
  });

  it('exposes counters and knobs to other processes under /_emulator/', async () => {
    const set = await call('POST', `${emu.url}/_emulator/knobs`, {}, { latencyMs: 1 });
    expect(set.json.latencyMs).toBe(1);
    expect((await call('POST', `${emu.url}/_emulator/knobs`, {}, { noSuchKnob: 1 })).status).toBe(400);
    expect((await call('POST', `${emu.url}/_emulator/knobs`, {}, 'not json')).status).toBe(500); // and the emulator lives on
    emu.knobs.latencyMs = 0;
    await graph('GET', '/me/drive');
    const counters = await call('GET', `${emu.url}/_emulator/counters`);
    expect(counters.json).toMatchObject({ requests: 1, byKind: { drive: 1 } }); // control calls are not counted
  });
});

describe('authentication', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (path: string, fields: Record<string, string>) => call('POST', `${emu.url}${path}`, { 'Content-Type': 'application/x-www-form-urlencoded' }, form(fields));

  it('runs the device-code flow: pending, then tokens', async () => {
    emu.knobs.auth = 'issued';
    const code = await post('/common/oauth2/v2.0/devicecode', { client_id: 'c', scope: 'Files.ReadWrite offline_access' });
    expect(code.json).toMatchObject({ user_code: expect.any(String), device_code: expect.any(String), verification_uri: `${emu.url}/devicelogin` });
    const grant = { client_id: 'c', grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code.json.device_code };
    const pending = await post('/common/oauth2/v2.0/token', grant);
    expect(pending.status).toBe(400);
    expect(pending.json.error).toBe('authorization_pending');
    const tokens = await post('/common/oauth2/v2.0/token', grant);
    expect(tokens.json).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
    expect((await call('GET', `${emu.url}/v1.0/me/drive`, { Authorization: `Bearer ${tokens.json.access_token}` })).status).toBe(200);
  });

  it('in issued mode refuses unknown and expired tokens, and refresh tokens work once', async () => {
    emu.knobs.auth = 'issued';
    expect((await graph('GET', '/me/drive')).status).toBe(401);
    expect((await call('GET', `${emu.url}/v1.0/me/drive`)).json.error.code).toBe('InvalidAuthenticationToken');
    const t = emu.auth.issue();
    const bearer = { Authorization: `Bearer ${t.access_token}` };
    expect((await call('GET', `${emu.url}/v1.0/me/drive`, bearer)).status).toBe(200);
    emu.auth.expireAccessTokens();
    const expired = await call('GET', `${emu.url}/v1.0/me/drive`, bearer);
    expect(expired.status).toBe(401);
    expect(expired.json.error.message).toMatch(/expired/);
    const refreshed = await post('/oauth2/v2.0/token', { client_id: 'c', grant_type: 'refresh_token', refresh_token: String(t.refresh_token) });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refresh_token).not.toBe(t.refresh_token);
    const reused = await post('/oauth2/v2.0/token', { client_id: 'c', grant_type: 'refresh_token', refresh_token: String(t.refresh_token) });
    expect(reused.json.error).toBe('invalid_grant');
  });
});
