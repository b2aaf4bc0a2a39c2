import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalBackend } from '../../backends/local/local.js';
import { check } from '../../src/commands/check.js';
import { prune } from '../../src/commands/prune.js';
import type { Logger } from '../../src/log.js';
import { DAY_MS } from '../../src/prune/retention.js';
import { chunkFiles } from '../support/engine.js';
import { makeClient } from '../support/repos.js';
import { seededRandom } from '../support/seeded-random.js';
import { tempDir } from '../support/tmp.js';

/** Chunk files and fossils on a local storage, relative to it. */
const onStorage = (storage: string) =>
  chunkFiles(storage)
    .map((f) => path.relative(storage, f))
    .sort();
const fossilsOn = (storage: string) => onStorage(storage).filter((f) => f.endsWith('.fsl'));
const recordsOn = (storage: string) => (fs.existsSync(path.join(storage, 'fossils')) ? fs.readdirSync(path.join(storage, 'fossils')) : []);
const revisionsOn = (storage: string, id: string) =>
  fs
    .readdirSync(path.join(storage, 'snapshots', id))
    .map(Number)
    .sort((a, b) => a - b);

/** Two snapshot ids on one storage; docs has two revisions, the second without b.bin. */
async function twoIds() {
  const root = tempDir();
  const storage = path.join(root, 'storage');
  const docs = await makeClient(root, 'docs', storage);
  const mail = await makeClient(root, 'mail', storage);
  const rnd = seededRandom(5);
  docs.write('a.bin', rnd.bytes(6000));
  docs.write('b.bin', rnd.bytes(6000));
  mail.write('m.bin', rnd.bytes(6000));
  await docs.backup();
  await mail.backup();
  docs.remove('b.bin');
  await docs.backup();
  return { root, storage, docs, mail, rnd };
}

function storageSnapshot(storage: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(storage, p), fs.readFileSync(p).toString('base64'));
    }
  };
  walk(storage);
  return out;
}

describe('prune', () => {
  it('deletes a revision in two steps: fossils first, deleted once every backup running then has finished', async () => {
    const { storage, docs, mail } = await twoIds();
    const chunksBefore = onStorage(storage).length;
    const finishDocs = await docs.announce();
    const finishMail = await mail.announce();
    const r = await prune({ repoDir: docs.dir, revisions: [1] });
    expect(r.plan.deleteRevisions).toEqual([{ snapshotId: 'docs', revision: 1, reason: 'selected with -r' }]);
    expect(r.execution).toMatchObject({ deletedRevisions: 1, deletedChunks: 0 });
    expect(r.execution!.fossilized).toBeGreaterThan(3); // b.bin's chunks and revision 1's metadata
    expect(revisionsOn(storage, 'docs')).toEqual([2]);
    expect(fossilsOn(storage)).toHaveLength(r.execution!.fossilized);
    expect(onStorage(storage)).toHaveLength(chunksBefore); // renamed, not deleted
    expect(recordsOn(storage)).toHaveLength(1);
    expect((await check({ repoDir: docs.dir, all: true })).ok).toBe(true);

    const early = await prune({ repoDir: mail.dir, deleteOnly: true });
    const waitedFor = (c: { waitingFor: string[] }) => c.waitingFor.map((w) => /backup of '(\w+)'/.exec(w)?.[1]).sort();
    expect(early.plan.collections).toEqual([expect.objectContaining({ ripe: false })]);
    expect(waitedFor(early.plan.collections[0]!)).toEqual(['docs', 'mail']);
    // backups that start later are not waited for: they never saw those chunks
    await docs.backup();
    await finishDocs();
    expect(waitedFor((await prune({ repoDir: mail.dir, deleteOnly: true, dryRun: true })).plan.collections[0]!)).toEqual(['mail']);
    await finishMail();
    const late = await prune({ repoDir: mail.dir, deleteOnly: true });
    expect(late.execution).toMatchObject({ deletedChunks: r.execution!.fossilized, resurrected: 0 });
    expect(fossilsOn(storage)).toEqual([]);
    // the collection is gone; its deletion record stays, for other clients' caches
    expect(recordsOn(storage)).toEqual(late.execution!.recordsWritten);
    expect(late.execution!.recordsWritten).not.toEqual(r.execution!.recordsWritten);
    expect((await check({ repoDir: docs.dir, all: true })).ok).toBe(true);
  });

  it('brings back fossils that a revision finished meanwhile references', async () => {
    const { root, storage, docs, mail, rnd } = await twoIds();
    // a backup of mail "in flight": announced, its chunks uploaded, its revision file not yet visible
    const finish = await mail.announce();
    mail.write('late.bin', rnd.bytes(6000));
    await mail.backup();
    const hidden = path.join(root, 'mail-2');
    fs.renameSync(path.join(storage, 'snapshots', 'mail', '2'), hidden);
    const collected = await prune({ repoDir: docs.dir, exhaustive: true }); // late.bin's chunks look unused
    expect(collected.execution!.fossilized).toBeGreaterThan(0);
    expect((await prune({ repoDir: docs.dir, deleteOnly: true })).plan.collections[0]).toMatchObject({ ripe: false });
    fs.renameSync(hidden, path.join(storage, 'snapshots', 'mail', '2')); // the backup finishes
    await finish();
    const checked = await check({ repoDir: mail.dir });
    expect(checked.ok).toBe(true); // fossils stand in for the chunks, as warnings
    expect(checked.findings.map((f) => f.kind === 'chunk' && f.problem)).toContain('fossil');
    const done = await prune({ repoDir: docs.dir, deleteOnly: true });
    expect(done.execution!.resurrected).toBe(collected.execution!.fossilized);
    expect(fossilsOn(storage)).toEqual([]);
    expect((await check({ repoDir: mail.dir, all: true, files: true })).ok).toBe(true);
  });

  it('-exclusive deletes at once, warns, and completes pending collections', async () => {
    const { storage, docs } = await twoIds();
    await prune({ repoDir: docs.dir, revisions: [1] });
    expect(fossilsOn(storage).length).toBeGreaterThan(0);
    const warnings: string[] = [];
    const log: Logger = { info() {}, debug() {}, warn: (m) => warnings.push(m) };
    const r = await prune({ repoDir: docs.dir, exclusive: true, deleteOnly: true, log });
    expect(warnings.join()).toMatch(/no other client may back up/);
    expect(r.plan.collections[0]).toMatchObject({ ripe: true });
    expect(fossilsOn(storage)).toEqual([]);
    const newest = await prune({ repoDir: docs.dir, exclusive: true, revisions: [2], log });
    expect(newest.plan.spared).toEqual([]);
    expect(fs.existsSync(path.join(storage, 'snapshots', 'docs', '2'))).toBe(false);
    expect(fossilsOn(storage)).toEqual([]);
    expect((await check({ repoDir: docs.dir, all: true })).ok).toBe(true);
  });

  it('never deletes the newest revision without -exclusive', async () => {
    const { docs } = await twoIds();
    const r = await prune({ repoDir: docs.dir, revisions: [2] });
    expect(r.plan.deleteRevisions).toEqual([]);
    expect(r.plan.spared).toEqual([{ snapshotId: 'docs', revision: 2, reason: 'selected with -r, but it is the newest revision' }]);
  });

  it('-exhaustive collects chunks no revision references, such as leftovers of interrupted backups', async () => {
    const { storage, docs } = await twoIds();
    const some = onStorage(storage)[0]!;
    const leftover = `chunks/ee/${'e'.repeat(62)}`;
    fs.mkdirSync(path.join(storage, 'chunks', 'ee'), { recursive: true });
    fs.copyFileSync(path.join(storage, some), path.join(storage, leftover));
    const plain = await prune({ repoDir: docs.dir, dryRun: true });
    expect(plain.plan.fossilize).toEqual([]);
    const r = await prune({ repoDir: docs.dir, exhaustive: true });
    expect(r.plan.fossilize).toContain('e'.repeat(64));
    expect(fossilsOn(storage)).toContain(`${leftover}.fsl`);
  });

  it('-dry-run changes nothing on the storage and plans what the real run does', async () => {
    const { storage, docs } = await twoIds();
    const before = storageSnapshot(storage);
    const dry = await prune({ repoDir: docs.dir, all: true, keep: [{ interval: 0, age: 1 }], now: Date.now() + 2 * DAY_MS, dryRun: true });
    expect(storageSnapshot(storage)).toEqual(before);
    expect(dry.plan.deleteRevisions.map((r) => `${r.snapshotId}/${r.revision}`)).toEqual(['docs/1']);
    expect(fs.readFileSync(dry.logFile, 'utf8')).toMatch(/dry run/);
    const real = await prune({ repoDir: docs.dir, all: true, keep: [{ interval: 0, age: 1 }], now: Date.now() + 2 * DAY_MS });
    expect(real.plan.fossilize.sort()).toEqual(dry.plan.fossilize.sort());
    expect(fs.readFileSync(real.logFile, 'utf8')).toMatch(/deleted revision 1 of docs/);
  });

  it('with a warm cache, never downloads revision metadata it has seen before', async () => {
    const { docs, mail } = await twoIds();
    await prune({ repoDir: docs.dir, all: true, dryRun: true }); // loads every revision once
    await mail.backup(); // written by this client: cached at backup time, in mail's cache
    const reads = vi.spyOn(LocalBackend.prototype, 'read');
    try {
      await prune({ repoDir: mail.dir, all: true, keep: [{ interval: 0, age: 1 }], now: Date.now() + 2 * DAY_MS, dryRun: true });
      const cold = reads.mock.calls.map((c) => c[0]).filter((p) => p.startsWith('snapshots/') || p.startsWith('chunks/'));
      expect(cold.length).toBeGreaterThan(0); // mail's cache had not seen docs yet
      reads.mockClear();
      await prune({ repoDir: mail.dir, all: true, keep: [{ interval: 0, age: 1 }], now: Date.now() + 2 * DAY_MS, dryRun: true });
      expect(reads.mock.calls.map((c) => c[0]).filter((p) => p.startsWith('snapshots/') || p.startsWith('chunks/'))).toEqual([]);
    } finally {
      reads.mockRestore();
    }
  });

  it('rejects -collect-only with -delete-only; warns of a revision not there (a rerun after a crash finds it deleted) and deletes nothing', async () => {
    const { docs } = await twoIds();
    await expect(prune({ repoDir: docs.dir, collectOnly: true, deleteOnly: true })).rejects.toMatchObject({ code: 'USAGE' });
    const warnings: string[] = [];
    const r = await prune({ repoDir: docs.dir, revisions: [9], log: { info() {}, debug() {}, warn: (m) => warnings.push(m) } });
    expect(warnings).toEqual(["no revision 9 of 'docs' (deleted already?)"]);
    expect(r.plan.deleteRevisions).toEqual([]);
  });
});
