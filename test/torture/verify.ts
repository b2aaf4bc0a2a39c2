// What the torture harness checks after every step, in its own process through the library, from a
// client that never backs up or prunes: every revision on the storage was made from a tree the
// harness knows (the one copied when that id's backup started) and its file list holds exactly
// that tree's files and hashes; `check -a` finds every chunk of every revision (a fossil counts:
// the prune that made it brings it back); and a revision restores byte for byte (one chosen at
// random after each step, every one at the end of the schedule, when `check -a -files` also
// rebuilds every file).

import { createHash } from 'node:crypto';
import { listStorageRevisions } from '../../src/catalog/revision-sync.js';
import { listRunningBackups } from '../../src/catalog/running-backups.js';
import { check } from '../../src/commands/check.js';
import { restore } from '../../src/commands/restore.js';
import type { Random } from '../../src/seeded-random.js';
import { Repository } from '../../src/storage/repository.js';
import { manifestOf, treeDifferences } from './trees.js';

export interface Verdict {
  chunksChecked: number;
  restored: number;
  /** chunk ids found missing */
  lost: string[];
  problems: string[];
}

const EMPTY = createHash('sha256').digest('hex');

export class Verifier {
  /** the tree each revision on the storage was made from, by "id/n" */
  private readonly expected = new Map<string, string>();
  /** the tree the current backup of each id reads */
  private readonly current = new Map<string, string>();
  /** revisions whose file list matched their tree */
  private readonly listed = new Set<string>();

  private constructor(
    private readonly repo: Repository,
    private readonly checkerDir: string,
    private readonly password: string,
  ) {}

  static async open(verifierDir: string, checkerDir: string, password: string): Promise<Verifier> {
    return new Verifier(await Repository.open({ repoDir: verifierDir, askPassword: async () => password, threads: 4 }), checkerDir, password);
  }

  private get open() {
    return { repoDir: this.repo.repoDir, askPassword: async () => this.password, threads: 4 };
  }

  /** Waits until a new announcement is on the storage (the backup has begun its work), or the process ends. */
  async untilAnnounced(proc: { running: boolean }): Promise<void> {
    const before = new Set(await listRunningBackups(this.repo));
    while (proc.running) {
      if ((await listRunningBackups(this.repo)).some((name) => !before.has(name))) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Revisions of `id` that appear from now on come from a backup of this tree. */
  attribute(id: string, tree: string): void {
    this.current.set(id, tree);
  }

  /** Takes note of revisions that appeared (made from their id's current tree) and went. */
  async register(): Promise<string[]> {
    const problems: string[] = [];
    const onStorage = new Set<string>();
    for (const r of await listStorageRevisions(this.repo)) {
      const key = `${r.snapshotId}/${r.revision}`;
      onStorage.add(key);
      if (this.expected.has(key)) continue;
      const tree = this.current.get(r.snapshotId);
      if (tree) this.expected.set(key, tree);
      else problems.push(`revision ${key} appeared, but no backup of ${r.snapshotId} ran`);
    }
    for (const key of [...this.expected.keys()]) if (!onStorage.has(key)) this.expected.delete(key);
    return problems;
  }

  /** The revision numbers on the storage, by id. */
  revisionNumbers(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const key of this.expected.keys()) {
      const [id, n] = key.split('/') as [string, string];
      out.set(
        id,
        [...(out.get(id) ?? []), Number(n)].sort((a, b) => a - b),
      );
    }
    return out;
  }

  compareWithTree(id: string, n: number, dir: string): string[] {
    const tree = this.expected.get(`${id}/${n}`);
    return tree ? treeDifferences(tree, dir) : [`no tree known for ${id}/${n}`];
  }

  async verify(rnd: Random, final: boolean): Promise<Verdict> {
    const v: Verdict = { chunksChecked: 0, restored: 0, lost: [], problems: await this.register() };
    for (const key of this.expected.keys()) if (!this.listed.has(key)) await this.compareFileList(key, v);
    const r = await check({ ...this.open, all: true, files: final, persist: final });
    v.chunksChecked += r.referencedChunks;
    for (const f of r.findings) {
      if (f.severity !== 'error') continue;
      if (f.kind === 'chunk') v.lost.push(f.chunkId);
      v.problems.push(`check -a${final ? ' -files' : ''}: ${JSON.stringify(f).slice(0, 600)}`);
    }
    const keys = [...this.expected.keys()];
    for (const key of final ? keys : keys.length > 0 ? [rnd.pick(keys)] : []) await this.restoreOne(key, v);
    return v;
  }

  private async compareFileList(key: string, v: Verdict): Promise<void> {
    const [id, n] = key.split('/') as [string, string];
    try {
      const r = await this.repo.loadRevision(id, Number(n));
      const files = (await this.repo.readFileList(r)).filter((e) => e.type === 'file');
      const listed = new Map(files.map((e) => [e.path, e.hash ? e.hash.toString('hex') : EMPTY]));
      const want = manifestOf(this.expected.get(key)!);
      const differ = [...want].filter(([f, h]) => listed.get(f) !== h).map(([f]) => f);
      const extra = [...listed.keys()].filter((f) => !want.has(f));
      if (differ.length + extra.length > 0) v.problems.push(`revision ${key} does not hold the tree it was made from: ${[...differ, ...extra].join(', ')}`);
      this.listed.add(key);
    } catch (e) {
      if (!this.expected.has(key)) return; // deleted by a prune meanwhile
      v.problems.push(`revision ${key}: ${(e as Error).message}`);
    }
  }

  private async restoreOne(key: string, v: Verdict): Promise<void> {
    const [id, n] = key.split('/') as [string, string];
    const r = await restore({ ...this.open, repoDir: this.checkerDir, snapshotId: id, revision: Number(n), overwrite: true, delete: true }).catch((e: Error) => e);
    if (r instanceof Error) return void v.problems.push(`restore of ${key}: ${r.message}`);
    for (const b of r.broken) v.lost.push(b.chunkId);
    const differences = [...r.broken.map((b) => `chunk ${b.chunkId} ${b.reason}`), ...r.failed.map((f) => `${f.path}: ${f.reason}`), ...treeDifferences(this.expected.get(key)!, this.checkerDir)];
    if (differences.length > 0) v.problems.push(`restore of ${key} differs from the tree backed up: ${differences.join('; ')}`);
    else v.restored++;
  }

  async close(): Promise<void> {
    await this.repo.close();
  }
}
