// Seeded random interleavings of backups (three snapshot ids, each its own client and cache),
// backups "in flight" (announced, chunks uploaded, revision file not yet visible) and prunes with random
// options from random clients. After every step a check from a random client, from a fresh or a
// cached chunk list, must find every chunk that a visible revision references (a fossil counts:
// step 2 brings it back). At the end every in-flight backup finishes, every id backs up once
// more, step 2 runs, and then no fossil is needed and every file rebuilds byte for byte.
// SAFETY_SEEDS=n runs more seeds.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CheckResult, check } from '../../src/commands/check.js';
import { type PruneOptions, prune } from '../../src/commands/prune.js';
import { DAY_MS } from '../../src/prune/retention.js';
import { type Client, makeClient } from '../support/repos.js';
import { type Random, seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

const SEEDS = Number(process.env.SAFETY_SEEDS ?? 4);
/** what the prunes of all seeds did, so the test can tell it exercised both steps */
const totals = { fossilized: 0, deletedChunks: 0, resurrected: 0, deletedRevisions: 0 };
const STEPS = 18;

interface World {
  root: string;
  storage: string;
  clients: Client[];
  /** in-flight backups: revision file moved aside and the announcement to withdraw when it lands, by snapshot id */
  hidden: Map<string, { from: string; to: string; finish: () => Promise<void> }>;
  rnd: Random;
  trace: string[];
}

function edit(w: World, c: Client): void {
  const names = fs.readdirSync(c.dir).filter((n) => n.endsWith('.bin'));
  const action = w.rnd.int(3);
  if (action === 0 || names.length < 2) c.write(`f${w.rnd.int(40)}.bin`, w.rnd.bytes(500 + w.rnd.int(4000)));
  else if (action === 1) c.remove(w.rnd.pick(names));
  else {
    const f = path.join(c.dir, w.rnd.pick(names));
    const data = fs.readFileSync(f);
    w.rnd.bytes(200).copy(data, w.rnd.int(Math.max(1, data.length - 200)));
    fs.writeFileSync(f, data);
  }
}

function revisionsOf(w: World, id: string): number[] {
  const dir = path.join(w.storage, 'snapshots', id);
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .map(Number)
        .sort((a, b) => a - b)
    : [];
}

async function step(w: World): Promise<void> {
  const c = w.rnd.pick(w.clients);
  const id = c.snapshotId;
  const roll = w.rnd.next();
  if (roll < 0.4 && !w.hidden.has(id)) {
    edit(w, c);
    const r = await c.backup();
    w.trace.push(`backup ${id} -> ${r.revision}`);
  } else if (roll < 0.5 && !w.hidden.has(id)) {
    edit(w, c);
    const finish = await c.announce();
    const r = await c.backup();
    const from = path.join(w.storage, 'snapshots', id, String(r.revision));
    const to = path.join(w.root, `in-flight-${id}`);
    fs.renameSync(from, to);
    w.hidden.set(id, { from: to, to: from, finish });
    w.trace.push(`backup ${id} -> ${r.revision} (in flight)`);
  } else if (roll < 0.6 && w.hidden.has(id)) {
    const h = w.hidden.get(id)!;
    fs.renameSync(h.from, h.to);
    await h.finish();
    w.hidden.delete(id);
    w.trace.push(`finish backup of ${id}`);
  } else {
    await randomPrune(w, c);
  }
}

async function randomPrune(w: World, c: Client): Promise<void> {
  const o: PruneOptions = { repoDir: c.dir, all: w.rnd.next() < 0.5, exhaustive: w.rnd.next() < 0.4, fromCache: w.rnd.next() < 0.5 };
  const target = o.all ? w.rnd.pick(w.clients).snapshotId : c.snapshotId;
  const revs = revisionsOf(w, target);
  if (revs.length > 1 && w.rnd.next() < 0.6) o.revisions = [w.rnd.pick(revs.slice(0, -1))];
  if (!o.all) o.snapshotId = target;
  // time travel and -exclusive are only safe with no backup in flight (the 7-day rule, and exclusivity)
  if (w.hidden.size === 0 && w.rnd.next() < 0.3) {
    o.now = Date.now() + (1 + w.rnd.int(20)) * DAY_MS;
    o.keep = [{ interval: w.rnd.int(3), age: w.rnd.int(5) }];
  }
  if (w.hidden.size === 0 && w.rnd.next() < 0.15) o.exclusive = true;
  const mode = w.rnd.int(6);
  if (mode === 0) o.collectOnly = true;
  if (mode === 1) o.deleteOnly = true;
  const r = await prune(o);
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.execution?.[k] ?? 0;
  w.trace.push(
    `prune from ${c.snapshotId} ${JSON.stringify({ ...o, repoDir: undefined })}: -${r.execution?.deletedRevisions} revisions, ` +
      `${r.execution?.fossilized} fossils, ${r.execution?.deletedChunks} deleted, ${r.execution?.resurrected} back`,
  );
}

function errors(r: CheckResult): string[] {
  return r.findings.filter((f) => f.severity === 'error').map((f) => JSON.stringify(f));
}

async function run(seed: number): Promise<void> {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const rnd = seededRandom(seed);
  const w: World = { root, storage, clients: [], hidden: new Map(), rnd, trace: [] };
  for (const id of ['a', 'b', 'c']) {
    const c = await makeClient(root, id, storage);
    edit(w, c);
    edit(w, c);
    await c.backup();
    w.clients.push(c);
  }
  for (let i = 0; i < STEPS; i++) {
    await step(w);
    const checker = rnd.pick(w.clients);
    const r = await check({ repoDir: checker.dir, all: true, fromCache: rnd.next() < 0.6 });
    expect(errors(r), `seed ${seed}, after:\n${w.trace.join('\n')}`).toEqual([]);
  }
  for (const h of w.hidden.values()) {
    fs.renameSync(h.from, h.to);
    await h.finish();
  }
  for (const c of w.clients) {
    edit(w, c);
    await c.backup();
  }
  await prune({ repoDir: w.clients[0]!.dir, deleteOnly: true });
  const final = await check({ repoDir: w.clients[1]!.dir, all: true, files: true, persist: true });
  expect(errors(final), `seed ${seed}:\n${w.trace.join('\n')}`).toEqual([]);
  expect(final.findings, `seed ${seed}: fossils still needed`).toEqual([]);
  // the warm caches agree with a cache built from nothing
  const warm = await check({ repoDir: w.clients[2]!.dir, stats: true, fromCache: true });
  fs.rmSync(path.join(w.clients[2]!.dir, '.dbk', 'cache'), { recursive: true });
  const cold = await check({ repoDir: w.clients[2]!.dir, stats: true });
  expect(JSON.stringify(warm.stats, null, 1), `seed ${seed}:\n${w.trace.join('\n')}`).toEqual(JSON.stringify(cold.stats, null, 1));
}

describe('prune safety under random interleavings', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}`, () => run(seed), 300_000);
  }
  it('made fossils, deleted and brought back chunks, and deleted revisions along the way', () => {
    expect(
      Object.values(totals).every((n) => n > 0),
      JSON.stringify(totals),
    ).toBe(true);
  });
});
