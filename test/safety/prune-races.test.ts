// The ways the classic two-step prune loses chunks, each played out as it was found, with real
// dbk processes where the race is between processes: a backup held with SIGSTOP across prunes
// (a new id's first backup, an id idle for weeks, an id prune was told to -ignore), and a chunk
// uploaded again beside an older collection's fossil. Then the same holes reached by other roads:
// check -resurrect, -exclusive interrupted between its deletions, and a write whose reply was lost.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalBackend } from '../../backends/local/local.js';
import { check } from '../../src/commands/check.js';
import { prune } from '../../src/commands/prune.js';
import { fossilPath } from '../../src/format/ids.js';
import { DAY_MS } from '../../src/prune/retention.js';
import { chunkFiles, withRepository } from '../support/engine.js';
import { type Client, makeClient } from '../support/repos.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';
import { DbkProcess, sleep } from '../torture/dbk-process.js';

const rnd = seededRandom(12);
const password = { DBK_PASSWORD: 'unused: the storage is plain' };

/** Storage with clients x and y (one revision each) and a fresh client z. */
async function world() {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const x = await makeClient(root, 'x', storage);
  const y = await makeClient(root, 'y', storage);
  const z = await makeClient(root, 'z', storage);
  for (const c of [x, y]) {
    c.write('base.bin', rnd.bytes(5000));
    await c.backup();
  }
  return { root, storage, x, y, z };
}

/** `dbk …` in a client's folder, every storage call slowed (so a hold lands mid-upload), on the clock given. */
function dbk(c: Client, args: string[], o: { slow?: boolean; clockOffsetDays?: number } = {}): DbkProcess {
  const env = { ...process.env, ...password, ...(o.slow ? { DBK_TEST_FAULTS: 'seed=3,slow=1' } : {}), DBK_TEST_CLOCK_OFFSET_S: String((o.clockOffsetDays ?? 0) * 86_400) };
  return new DbkProcess(`${c.snapshotId}: dbk ${args.join(' ')}`, c.dir, args, env);
}

async function ok(p: DbkProcess): Promise<string> {
  const exit = await p.finish(60_000);
  expect(exit.code, `${p.what}: ${exit.stderr}`).toBe(0);
  return exit.stdout;
}

/** Holds a backup once it has uploaded `chunks` chunks the storage lacked before it started. */
async function holdAfterUploads(p: DbkProcess, storage: string, chunks: number): Promise<void> {
  const before = new Set(chunkFiles(storage));
  while (p.running && chunkFiles(storage).filter((f) => !before.has(f)).length < chunks) await sleep(5);
  expect(p.hold(), 'the backup was still running when held').toBe(true);
}

async function expectSound(c: Client): Promise<void> {
  const r = await check({ repoDir: c.dir, all: true, files: true });
  expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
}

describe('a backup held across prunes keeps every chunk it uploaded', () => {
  const cases = [
    { name: "a new id's first backup", setUp: async (_z: Client) => {}, pruneArgs: [] as string[], clockOffsetDays: 0 },
    {
      name: 'an id whose last revision is 10 days old when step 2 runs',
      setUp: async (z: Client) => {
        z.write('old.bin', rnd.bytes(3000));
        await ok(dbk(z, ['backup'], { clockOffsetDays: -10 }));
      },
      pruneArgs: [],
      clockOffsetDays: 0,
    },
    { name: 'an id both prunes were told to -ignore', setUp: async (_z: Client) => {}, pruneArgs: ['-ignore', 'z'], clockOffsetDays: 0 },
    { name: 'a backup that runs for days, with the pruning host a week ahead', setUp: async (_z: Client) => {}, pruneArgs: [], clockOffsetDays: 9 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { storage, x, y, z } = await world();
      await c.setUp(z);
      for (let i = 0; i < 8; i++) z.write(`f${i}.bin`, rnd.bytes(6000));
      const held = dbk(z, ['backup'], { slow: true });
      await holdAfterUploads(held, storage, 6);
      // z's uploaded chunks belong to no revision yet: an exhaustive prune makes fossils of them
      const collected = await ok(dbk(x, ['prune', '-a', '-exhaustive', ...c.pruneArgs], { clockOffsetDays: c.clockOffsetDays }));
      expect(collected).toMatch(/fossilize [1-9]\d* chunks/);
      for (const other of [x, y]) {
        other.write('new.bin', rnd.bytes(4000));
        await ok(dbk(other, ['backup']));
      }
      // every other id has backed up since: the classic rule would delete the fossils now
      const waiting = await ok(dbk(y, ['prune', '-a', ...c.pruneArgs], { clockOffsetDays: c.clockOffsetDays }));
      expect(waiting).toMatch(/waiting for running\/[0-9a-f]{16} \(backup of 'z'/);
      held.resume();
      await ok(held);
      expect((await check({ repoDir: z.dir })).ok).toBe(true);
      const done = await ok(dbk(x, ['prune', '-a', ...c.pruneArgs], { clockOffsetDays: c.clockOffsetDays }));
      expect(done).toMatch(/resurrect [1-9]\d*/);
      await expectSound(z);
    }, 120_000);
  }
});

describe('a backup whose announcement was removed while it was held (taken for dead)', () => {
  async function heldAndForgotten() {
    const { storage, x, y, z } = await world();
    for (let i = 0; i < 8; i++) z.write(`f${i}.bin`, rnd.bytes(6000));
    const held = dbk(z, ['backup'], { slow: true });
    await holdAfterUploads(held, storage, 6);
    for (const name of fs.readdirSync(path.join(storage, 'running'))) fs.rmSync(path.join(storage, 'running', name));
    return { storage, x, y, z, held };
  }

  it('brings its chunks back from their fossils and writes its revision', async () => {
    const { x, z, held } = await heldAndForgotten();
    expect(await ok(dbk(x, ['prune', '-a', '-exhaustive']))).toMatch(/fossilize [1-9]\d* chunks/);
    held.resume();
    const exit = await held.finish(60_000);
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/announcement running\/[0-9a-f]{16} was removed while it ran/);
    await expectSound(z);
    expect(fs.readdirSync(path.join(path.dirname(z.dir), 'storage', 'running'))).toEqual([]);
  }, 60_000);

  it('refuses to write its revision when a prune deleted some of them, and a rerun completes', async () => {
    const { x, z, held } = await heldAndForgotten();
    await ok(dbk(x, ['prune', '-a', '-exhaustive']));
    expect(await ok(dbk(x, ['prune', '-a']))).toMatch(/delete [1-9]\d* fossils/);
    held.resume();
    const exit = await held.finish(60_000);
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/chunks this backup uploaded were deleted by a prune while it was held/);
    expect(await z.backup()).toMatchObject({ revision: 1 });
    await expectSound(z);
  }, 60_000);
});

describe('a fossil met again', () => {
  it('a chunk uploaded again beside an older collection’s fossil is not deleted on that collection’s word', async () => {
    const { storage, x, y } = await world();
    const f = rnd.bytes(5000);
    x.write('f.bin', f);
    await x.backup(); // x/2 holds f
    x.remove('f.bin');
    await x.backup(); // x/3 does not
    // y's backup runs (held) while the collection of f's chunks is made: that collection waits for it
    y.write('y.bin', rnd.bytes(20_000));
    const yHeld = dbk(y, ['backup'], { slow: true });
    await holdAfterUploads(yHeld, storage, 1);
    await ok(dbk(x, ['prune', '-id', 'x', '-r', '2']));
    const fossilsOfF = chunkFiles(storage).filter((p) => p.endsWith('.fsl'));
    expect(fossilsOfF.length).toBeGreaterThan(0);
    // x backs f up again: its chunks are uploaded beside their fossils; held before its revision
    x.write('f.bin', f);
    for (let i = 0; i < 6; i++) x.write(`later-${i}.bin`, rnd.bytes(6000)); // read after f.bin
    const xHeld = dbk(x, ['backup'], { slow: true });
    await holdAfterUploads(xHeld, storage, 8);
    const metAgain = fossilsOfF.filter((p) => fs.existsSync(p.slice(0, -'.fsl'.length)));
    expect(metAgain.length).toBeGreaterThan(0);
    await ok(dbk(y, ['prune', '-exhaustive'])); // meets f's chunks beside their fossils
    yHeld.resume();
    await ok(yHeld); // the older collection is ripe now
    await ok(dbk(y, ['prune']));
    for (const p of metAgain) expect(fs.existsSync(p) || fs.existsSync(p.slice(0, -'.fsl'.length)), `${p} or its chunk`).toBe(true);
    xHeld.resume();
    await ok(xHeld);
    await expectSound(x);
    await ok(dbk(y, ['prune'])); // the newer collection brings them back
    await expectSound(x);
  }, 120_000);

  it('check -resurrect records what it brought back, and a collection that still names it never deletes it while another claims it', async () => {
    const { root, storage, x } = await world();
    x.write('f.bin', rnd.bytes(5000));
    // a backup in flight: announced, its revision not visible yet, when a collection takes its chunks
    const finishX = await x.announce();
    const r = await x.backup();
    const hidden = path.join(root, 'x-revision');
    fs.renameSync(path.join(storage, 'snapshots', 'x', String(r.revision)), hidden);
    await prune({ repoDir: x.dir, exhaustive: true }); // collection C0: f's chunks, waiting for x's backup
    fs.renameSync(hidden, path.join(storage, 'snapshots', 'x', String(r.revision)));
    const resurrected = await check({ repoDir: x.dir, all: true, resurrect: true });
    const ids = resurrected.findings.filter((f) => f.kind === 'chunk' && f.resurrected).map((f) => (f as { chunkId: string }).chunkId);
    expect(ids.length).toBeGreaterThan(0);
    const records = fs.readdirSync(path.join(storage, 'fossils'));
    expect(records).toHaveLength(2); // C0 and check's record of what it brought back
    // f goes from x; a prune with another backup running takes f's chunks into a collection of its own
    x.remove('f.bin');
    await x.backup();
    const finishOther = await x.announce();
    await prune({ repoDir: x.dir, revisions: [r.revision!] });
    await finishX(); // C0 is ripe now; the newer collection still waits
    await prune({ repoDir: x.dir, deleteOnly: true });
    await withRepository(x, async (repo) => {
      for (const id of ids) expect(await repo.backend.stat(fossilPath(id as never)), `fossil ${id}`).toBeDefined();
    });
    await finishOther();
    const last = await prune({ repoDir: x.dir, deleteOnly: true });
    expect(last.execution!.deletedChunks).toBeGreaterThanOrEqual(ids.length);
    await expectSound(x);
  }, 60_000);
});

describe('fossils shared by collections (found by a review of this design)', () => {
  it('a chunk met beside an older collection’s fossil has left its name before the running backups are listed', async () => {
    const { storage, x, z } = await world();
    x.write('f.bin', rnd.bytes(12_000));
    await x.backup();
    x.remove('f.bin');
    await x.backup();
    const finish = await z.announce();
    await prune({ repoDir: x.dir, revisions: [2] }); // C0: f's chunks, waiting for z
    const fossils = chunkFiles(storage).filter((p) => p.endsWith('.fsl'));
    for (const f of fossils) fs.copyFileSync(f, f.slice(0, -'.fsl'.length)); // uploaded again beside them
    const seenAtListing: string[] = [];
    const list = LocalBackend.prototype.list;
    const spy = vi.spyOn(LocalBackend.prototype, 'list').mockImplementation(async function (this: LocalBackend, dir: string) {
      // the last listing of running backups, the one after the fossils are made, is what the collection records
      if (dir === 'running') seenAtListing.splice(0, Infinity, ...fossils.map((f) => f.slice(0, -'.fsl'.length)).filter((c) => fs.existsSync(c)));
      return list.call(this, dir);
    });
    try {
      await prune({ repoDir: x.dir, exhaustive: true }); // claims them: a backup that found them as chunks must be listed
    } finally {
      spy.mockRestore();
    }
    expect(seenAtListing).toEqual([]);
    for (const f of fossils) expect(fs.existsSync(f), f).toBe(true);
    await finish();
    await expectSound(x);
  });

  it('while a collection record cannot be read, no collection is completed (it may claim the same fossils)', async () => {
    const { storage, x, y, z } = await world();
    x.write('f.bin', rnd.bytes(12_000));
    await x.backup();
    x.remove('f.bin');
    await x.backup();
    const releaseA = await z.announce(); // a backup running while C0 is made
    await prune({ repoDir: x.dir, revisions: [2] });
    const before = new Set(fs.readdirSync(path.join(storage, 'fossils')));
    // y's backup, running, uploads the same chunks again beside C0's fossils
    const releaseY = await y.announce();
    for (const f of chunkFiles(storage).filter((p) => p.endsWith('.fsl'))) fs.copyFileSync(f, f.slice(0, -'.fsl'.length));
    await prune({ repoDir: x.dir, exhaustive: true }); // C1 claims them, waiting for y
    const newer = fs.readdirSync(path.join(storage, 'fossils')).filter((n) => !before.has(n));
    expect(newer.length).toBeGreaterThan(0);
    for (const n of newer) fs.writeFileSync(path.join(storage, 'fossils', n), Buffer.from('damaged'));
    await releaseA(); // C0 would be ripe
    const waiting = await prune({ repoDir: x.dir });
    expect(waiting.plan.collections.length).toBeGreaterThan(0);
    for (const c of waiting.plan.collections) expect(c).toMatchObject({ ripe: false, waitingFor: [expect.stringMatching(/^fossils\/.* to be readable or removed$/)] });
    expect(waiting.execution!.deletedChunks).toBe(0);
    await releaseY();
    await expectSound(x);
  });
});

describe('other roads to a lost chunk', () => {
  it('-exclusive deletes revision files before chunks: interrupted between them, no revision lacks a chunk', async () => {
    const { storage, x } = await world();
    x.write('f.bin', rnd.bytes(8000));
    await x.backup();
    x.remove('f.bin');
    await x.backup();
    const failing = vi.spyOn(LocalBackend.prototype, 'delete').mockImplementation(async function (this: LocalBackend, p: string) {
      throw new Error(`interrupted before deleting ${p}`);
    });
    try {
      await expect(prune({ repoDir: x.dir, exclusive: true, revisions: [2] })).rejects.toThrow(/interrupted before deleting snapshots\/x\/2/);
    } finally {
      failing.mockRestore();
    }
    expect(fs.existsSync(path.join(storage, 'snapshots', 'x', '2'))).toBe(true);
    await expectSound(x);
  });

  it('-exclusive with -keep never deletes an id’s newest revision', async () => {
    const { x } = await world();
    const r = await prune({ repoDir: x.dir, all: true, exclusive: true, keep: [{ interval: 0, age: 1 }], now: Date.now() + 30 * DAY_MS });
    expect(r.plan.deleteRevisions).toEqual([]);
    expect(r.plan.spared.map((s) => s.snapshotId).sort()).toEqual(['x', 'y']);
  });

  it('a revision write whose reply was lost is not written again under the next number', async () => {
    const { x } = await world();
    x.write('g.bin', rnd.bytes(3000));
    process.env.DBK_TEST_FAULTS = 'seed=5,lost=1'; // every change made, and its reply lost
    try {
      expect((await x.backup()).revision).toBe(2);
    } finally {
      delete process.env.DBK_TEST_FAULTS;
    }
    const revisions = fs.readdirSync(path.join(path.dirname(x.dir), 'storage', 'snapshots', 'x')).sort();
    expect(revisions).toEqual(['1', '2']);
    await expectSound(x);
  }, 60_000);
});

describe('two clients that set up one new storage at once', () => {
  it('both end up on the one config the first wrote', async () => {
    const root = tempDir();
    const storage = path.join(root, 'storage');
    const clients = await Promise.all(['p', 'q', 'r'].map((id) => makeClient(root, id, storage)));
    for (const c of clients) {
      c.write('a.bin', rnd.bytes(2000));
      await c.backup();
    }
    await expectSound(clients[0]!);
  });
});
