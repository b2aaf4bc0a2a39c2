// The OneDrive backend against the Graph emulator: the conformance suite, then what is special
// about OneDrive — paging, batching, throttling storms, token expiry, dropped upload sessions, quota.

import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Entry } from '../../backends/backend.js';
import { collectTree } from '../../backends/list-tree.js';
import { odbConfig, odbRoot } from '../../backends/onedrive/config.js';
import { odbLogin, type UserCodePrompt } from '../../backends/onedrive/login.js';
import { OneDriveBackend } from '../../backends/onedrive/onedrive.js';
import { openBackend } from '../../backends/registry.js';
import { withRetry } from '../../backends/retry.js';
import { parseRetryAfter } from '../../backends/throttle.js';
import { DbkError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { makeSettings } from '../../src/settings.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { chunkPath, populateChunks } from '../support/graph-emulator/populate.js';
import { GraphEmulator } from '../support/graph-emulator/server.js';
import { odbSettings, openOdb } from '../support/odb-storage.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('dbk-odb-');
const started = GraphEmulator.start();
afterAll(async () => (await started).close());
let roots = 0;
const freshRoot = () => `store${roots++}`;

for (const batch of ['off', 'max']) {
  describeBackendConformance(
    `onedrive (Graph emulator, batching ${batch})`,
    async () => {
      const emu = await started;
      const root = freshRoot();
      return {
        backend: openOdb(emu, dir, root, { settings: { odb_max_batch_requests: batch } }),
        async putRaw(p, data) {
          emu.drive.addFile(`${root}/${p}`, Buffer.from(data));
        },
        async interrupt() {
          emu.faults.failNext('any', { drop: 'before' });
        },
        async openReadOnly() {
          const readOnly = odbSettings(emu, dir, 'Files.Read');
          return openOdb(emu, dir, root, { settings: { odb_token: readOnly.odb_token!, odb_max_batch_requests: batch } });
        },
      };
    },
    { timeout: 60_000 },
  );
}

const sortByName = (entries: Entry[]) => [...entries].sort((a, b) => (a.name < b.name ? -1 : 1));

describe('onedrive specifics', () => {
  let emu: GraphEmulator;
  beforeEach(async () => {
    emu = await started;
    emu.faults.resetCounters();
    emu.faults.onRequest = undefined;
    Object.assign(emu.knobs, { throttleEveryNth: 0, innerThrottleEveryNth: 0, unavailableEveryNth: 0, dropEveryNth: 0, auth: 'any', maxPageSize: 1000 });
    Object.assign(emu.knobs, { deviceCodeInterval: 1, deviceCodeApproveAfterPolls: 1 });
    emu.knobs.quotaBytes = 2 ** 40;
  });

  it('lists chunks/ in parallel pages and $batch requests: every entry once, requests ≈ pages', async () => {
    const root = freshRoot();
    populateChunks(emu.drive, root, 3000);
    const expected = Array.from({ length: 3000 }, (_, i) => chunkPath(i).slice('chunks/'.length)).sort();
    for (const [batch, threads] of [
      ['off', 1],
      ['off', 8],
      ['max', 8],
      ['3', 4],
    ] as const) {
      const b = openOdb(emu, dir, root, { settings: { odb_max_batch_requests: batch }, tuning: { pageSize: 5 } });
      emu.faults.resetCounters();
      const found = await collectTree(b, 'chunks', { threads });
      await b.close();
      expect(found.map((e) => e.name).sort()).toEqual(expected);
      expect(found.every((e) => e.size === 1024 && !e.dir)).toBe(true);
      const c = emu.counters;
      const pages = c.byKind.list ?? 0;
      // 256 folders of ~12 entries in pages of 5, plus the 52 pages of chunks/ itself
      expect(pages).toBeGreaterThan(256 * 2 + 52);
      if (batch === 'off') expect(c.requests).toBe(pages);
      else expect(c.requests).toBeLessThan(pages / (batch === 'max' ? 10 : 2));
    }
  });

  it('pages through folders when the service returns fewer items than $top asks', async () => {
    const root = freshRoot();
    for (let i = 0; i < 45; i++) emu.drive.addFile(`${root}/f/${i}`, Buffer.alloc(i));
    emu.knobs.maxPageSize = 4;
    const b = openOdb(emu, dir, root);
    const listed = await b.list('f');
    await b.close();
    expect(sortByName(listed)).toEqual(sortByName(Array.from({ length: 45 }, (_, i) => ({ name: String(i), size: i, dir: false }))));
    expect(emu.counters.byKind.list).toBe(12);
  });

  it('survives a throttling storm (every 3rd request 429 Retry-After 0.2, inner batch 429s) with every byte intact', async () => {
    const root = freshRoot();
    Object.assign(emu.knobs, { throttleEveryNth: 3, throttleRetryAfter: '0.2', innerThrottleEveryNth: 4, innerThrottleRetryAfter: '0.1' });
    const b = openOdb(emu, dir, root, { settings: { odb_max_batch_requests: 'max', odb_simple_upload_limit: '65536' }, tuning: { pageSize: 10, fragmentSize: 327_680 } });
    const files = Array.from({ length: 64 }, (_, i) => ({ path: `chunks/${(i % 16).toString(16).padStart(2, '0')}/c${i}`, data: randomBytes(i % 10 === 0 ? 700_000 : 1000 + i) }));
    const limit = pLimit(16);
    await Promise.all(files.map((f) => limit(() => b.write(f.path, f.data))));
    const listed = await collectTree(b, 'chunks', { threads: 16 });
    expect(sortByName(listed)).toEqual(sortByName(files.map((f) => ({ name: f.path.slice(7), size: f.data.length, dir: false }))));
    const read = await Promise.all(files.map((f) => limit(() => b.read(f.path))));
    for (const [i, data] of read.entries()) expect(data.equals(files[i]!.data)).toBe(true);
    await b.close();
    const c = emu.counters;
    expect(c.throttled).toBeGreaterThan(30);
    expect(b.caller.throttled).toBeGreaterThan(30);
    expect(b.caller.gate.pausedMs).toBeGreaterThan(0);
  });

  it('stats, renames in place and deletes made together share $batch requests, each with its own outcome, through a throttling storm', async () => {
    const root = freshRoot();
    Object.assign(emu.knobs, { throttleEveryNth: 7, throttleRetryAfter: '0.1', innerThrottleEveryNth: 5, innerThrottleRetryAfter: '0.1' });
    const b = openOdb(emu, dir, root, { settings: { odb_max_batch_requests: 'max' }, threads: 4 });
    expect(b.smallCallsInFlight).toBe(160);
    const names = Array.from({ length: 300 }, (_, i) => `chunks/${(i % 4).toString(16).padStart(2, '0')}/c${i}`);
    for (const n of names) emu.drive.addFile(`${root}/${n}`, Buffer.from(n));
    emu.drive.addFile(`${root}/${names[0]}.fsl`, Buffer.from('in the way'));
    emu.faults.resetCounters();
    const limit = pLimit(b.smallCallsInFlight!);
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: DbkError) => e.code,
      );
    const renamed = await Promise.all([...names, 'chunks/00/missing'].map((n) => limit(() => outcome(b.rename(n, `${n}.fsl`)))));
    expect(renamed[0]).toBe('ALREADY_EXISTS');
    expect(renamed.at(-1)).toBe('NOT_FOUND');
    expect(renamed.slice(1, -1).every((o) => o === 'ok')).toBe(true);
    const stats = await Promise.all(names.map((n) => limit(() => b.stat(`${n}.fsl`))));
    expect(stats.map((s) => s?.size)).toEqual(names.map((n, i) => (i === 0 ? 10 : Buffer.byteLength(n))));
    await Promise.all(names.map((n) => limit(() => b.delete(`${n}.fsl`))));
    expect((await collectTree(b, 'chunks', { threads: 4 })).map((e) => e.name)).toEqual([names[0]!.slice(7)]);
    await b.close();
    const c = emu.counters;
    expect(c.throttled).toBeGreaterThan(20);
    // 900 calls; one request each would be 900
    expect(c.requests).toBeLessThan(200);
  });

  it('pauses the whole pool on Retry-After, not just the refused request', async () => {
    const root = freshRoot();
    populateChunks(emu.drive, root, 2000);
    const b = openOdb(emu, dir, root, { tuning: { pageSize: 50 } });
    const arrivals: number[] = [];
    let refusedAt = 0;
    emu.faults.failNext('list', { status: 429, retryAfter: '0.5' }, 1, 40);
    emu.faults.onRequest = (_kind, c) => {
      arrivals.push(Date.now());
      if (c.requests === 41) refusedAt = Date.now();
    };
    await collectTree(b, 'chunks', { threads: 16 });
    await b.close();
    expect(refusedAt).toBeGreaterThan(0);
    // requests already on their way may still land; nothing new is sent until the pause is over
    const during = arrivals.filter((t) => t > refusedAt + 100 && t < refusedAt + 450);
    expect(during).toEqual([]);
    expect(arrivals.at(-1)! - refusedAt).toBeGreaterThanOrEqual(450);
  });

  it('rides out 503 bursts without Retry-After by backing off', async () => {
    const root = freshRoot();
    Object.assign(emu.knobs, { unavailableEveryNth: 5, unavailableBurst: 2, unavailableRetryAfter: '' });
    const b = openOdb(emu, dir, root);
    const data = randomBytes(5000);
    await b.write('x/y', data);
    expect((await b.read('x/y')).equals(data)).toBe(true);
    await b.close();
    expect(emu.counters.unavailable).toBeGreaterThan(0);
  });

  it('refreshes an expired token once for all workers, and saves the rotated refresh token', async () => {
    const root = freshRoot();
    populateChunks(emu.drive, root, 1500);
    emu.knobs.auth = 'issued';
    const b = openOdb(emu, dir, root, { tuning: { pageSize: 20 } });
    const tokenFile = b.config.tokenFile;
    const before = JSON.parse(readFileSync(tokenFile, 'utf8')) as { refresh_token: string };
    emu.faults.onRequest = (_kind, c) => {
      if (c.requests === 30) emu.auth.expireAccessTokens();
    };
    const listed = await collectTree(b, 'chunks', { threads: 16 });
    expect(listed).toHaveLength(1500);
    expect(emu.counters.unauthorized).toBeGreaterThan(0);
    expect(emu.counters.byKind.token).toBe(1);
    expect(b.caller.tokens.refreshes).toBe(1);
    const after = JSON.parse(readFileSync(tokenFile, 'utf8')) as { refresh_token: string; expiry: string };
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(Date.parse(after.expiry)).toBeGreaterThan(Date.now());

    // a second process on the same token file finds the refreshed tokens there instead of reusing the spent refresh token
    const other = new OneDriveBackend(b.config, { threads: 2, log: silentLogger });
    emu.faults.onRequest = undefined;
    await b.close();
    expect(await other.stat('chunks')).toMatchObject({ dir: true });
    expect(emu.counters.byKind.token).toBe(1);
    await other.close();
  });

  it('stops with PERMANENT and a sign-in hint when the refresh token is no longer valid', async () => {
    const root = freshRoot();
    emu.knobs.auth = 'issued';
    const b = openOdb(emu, dir, root);
    emu.auth.expireAccessTokens();
    emu.auth.revokeRefreshTokens();
    const e = await b.list('').catch((err: unknown) => err);
    await b.close();
    expect(e).toBeInstanceOf(DbkError);
    expect((e as DbkError).code).toBe('PERMANENT');
    expect((e as DbkError).hint).toMatch(/odb-login/);
  });

  for (const [title, phase, skip] of [
    ['a fragment lost before the service took it', 'before', 1],
    ['a fragment taken but its answer lost', 'after', 1],
    ['the last fragment committed but its answer lost', 'after', 4],
  ] as const) {
    it(`recovers a dropped connection in an upload session: ${title}`, async () => {
      const root = freshRoot();
      const b = openOdb(emu, dir, root, { settings: { odb_simple_upload_limit: '100000' }, tuning: { fragmentSize: 327_680 } });
      const data = randomBytes(4 * 327_680 + 5000); // 5 fragments
      emu.faults.failNext('uploadFragment', { drop: phase }, 1, skip);
      await b.write('chunks/ab/big', data);
      expect((await b.read('chunks/ab/big')).equals(data)).toBe(true);
      expect(await b.list('chunks/ab')).toEqual([{ name: 'big', size: data.length, dir: false }]);
      await b.close();
      expect(emu.counters.dropped).toBe(1);
    });
  }

  it('stops at once with a clear message when the drive is full (507), leaving nothing behind', async () => {
    const root = freshRoot();
    const b = openOdb(emu, dir, root, { settings: { odb_simple_upload_limit: '100000' }, tuning: { fragmentSize: 327_680 } });
    await b.write('chunks/00/small', randomBytes(10));
    emu.knobs.quotaBytes = emu.drive.usedBytes + 1000;
    let attempts = 0;
    const counting = {
      ...b,
      write: (p: string, d: Uint8Array) => {
        attempts++;
        return b.write(p, d);
      },
    };
    const retried = withRetry(counting, { baseDelayMs: 1 });
    for (const size of [5000, 500_000]) {
      const e = await retried.write(`chunks/00/f${size}`, randomBytes(size)).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(DbkError);
      expect((e as DbkError).code).toBe('PERMANENT');
      expect((e as DbkError).message).toMatch(/full|quota/i);
    }
    expect(attempts).toBe(2);
    expect(await b.list('chunks/00')).toEqual([{ name: 'small', size: 10, dir: false }]);
    await b.close();
  });

  it('signs in with the device-code flow and writes a private token file the backend then uses', async () => {
    Object.assign(emu.knobs, { auth: 'issued', deviceCodeInterval: 0.02, deviceCodeApproveAfterPolls: 2 });
    const prompts: UserCodePrompt[] = [];
    const settings = makeSettings('default', odbSettings(emu, dir), {});
    const result = await odbLogin({ settings, tokenFile: 'signed-in.json', repoDir: dir, onUserCode: (p) => prompts.push(p) });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatchObject({ userCode: expect.stringMatching(/^\w{8}$/), verificationUri: `${emu.url}/devicelogin` });
    expect(prompts[0]!.message).toContain(prompts[0]!.userCode);
    expect(result.tokenFile).toBe(path.join(dir, 'signed-in.json'));
    expect(statSync(result.tokenFile).mode & 0o777).toBe(0o600);
    expect(emu.counters.byKind).toMatchObject({ deviceCode: 1, token: 3 });
    const b = openOdb(emu, dir, freshRoot(), { settings: { odb_token: result.tokenFile } });
    await b.write('x', Buffer.from('signed in'));
    expect((await b.read('x')).toString()).toBe('signed in');
    await b.close();
  });

  it('addresses another drive by odb_drive_id', async () => {
    const root = freshRoot();
    const b = openOdb(emu, dir, root, { settings: { odb_drive_id: emu.drive.driveId } });
    await b.write('chunks/00/x', Buffer.from('on the drive'));
    expect(await collectTree(b, 'chunks', { threads: 2 })).toEqual([{ name: '00/x', size: 12, dir: false }]);
    await b.close();
    expect(emu.drive.fileAt(`${root}/chunks/00/x`)?.toString()).toBe('on the drive');
    const other = openOdb(emu, dir, root, { settings: { odb_drive_id: 'someoneelses' } });
    await expect(other.read('chunks/00/x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await other.close();
  });

  it('opens through the registry for odb:// with settings from the environment', async () => {
    const root = freshRoot();
    const env = Object.fromEntries(Object.entries(odbSettings(emu, dir)).map(([k, v]) => [`DBK_${k.toUpperCase()}`, v]));
    const b = await openBackend(`odb://${root}`, { settings: makeSettings('default', {}, env), repoDir: dir, threads: 4, log: silentLogger });
    await b.write('config', Buffer.from('hello'));
    expect(b.location).toBe(`odb://${root}`);
    expect(emu.drive.fileAt(`${root}/config`)?.toString()).toBe('hello');
    await b.close();
  });
});

describe('onedrive configuration', () => {
  const settings = (extra: Record<string, string>) => makeSettings('s', { odb_token: 'tok.json', ...extra }, {});

  it('reads the storage folder from the URL and the odb_* keys', () => {
    expect(odbRoot('odb://a/b/')).toBe('a/b');
    expect(odbRoot('odb:///a')).toBe('a');
    expect(() => odbRoot('odb://a/../b')).toThrow(DbkError);
    const c = odbConfig('odb://x', settings({ odb_max_batch_requests: 'max', odb_graph_url: 'https://h:1/v1.0/' }), '/repo');
    expect(c).toMatchObject({ root: 'x', tokenFile: '/repo/tok.json', maxBatchRequests: 20, graphUrl: 'https://h:1', simpleUploadLimit: 4 * 1024 * 1024 });
    expect(odbConfig('odb://x', settings({}), '/r').maxBatchRequests).toBe(0);
    expect(odbConfig('odb://x', settings({ odb_max_batch_requests: '7' }), '/r').maxBatchRequests).toBe(7);
    for (const bad of [{ odb_max_batch_requests: '21' }, { odb_graph_url: 'http://plain' }, { odb_simple_upload_limit: '-1' }]) {
      expect(() => odbConfig('odb://x', settings(bad), '/r')).toThrow(DbkError);
    }
    const missing = (() => {
      try {
        odbConfig('odb://x', makeSettings('s', {}, {}), '/r');
      } catch (e) {
        return e as DbkError;
      }
    })();
    expect(missing?.code).toBe('CONFIG');
    expect(missing?.hint).toMatch(/odb_token.*odb-login/);
  });

  it('reads Retry-After as fractional seconds or an HTTP date', () => {
    expect(parseRetryAfter('2.128')).toBe(2128);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
