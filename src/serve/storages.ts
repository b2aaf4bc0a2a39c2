// What `dbk serve` holds open for the life of the server: each storage of the repository folder,
// opened once (its password asked once, at start), and the browse indexes and chunk lists of the
// revisions being looked at, a few at a time. Everything the routes read goes through here.

import pLimit from 'p-limit';
import { ChunkCache, RevisionContent } from '../browse/file-content.js';
import { RevisionIndex } from '../browse/revision-index.js';
import { DbkError } from '../errors.js';
import type { Revision } from '../format/revision.js';
import type { Logger } from '../log.js';
import { readPreferences, storagePreference } from '../storage/preferences.js';
import { type OpenOptions, Repository } from '../storage/repository.js';

/** How long a request waits for a revision to open before it is answered with the index's progress instead. */
const QUICK_OPEN_MS = 300;

/** Revisions open for browsing at once: each holds a SQLite handle and its chunk hashes (32 bytes a chunk). */
const OPEN_REVISIONS = 4;

export interface OpenedRevision {
  revision: Revision;
  index: RevisionIndex;
  content: RevisionContent;
}

interface HeldRevision {
  opened: Promise<OpenedRevision>;
  /** opened, and its index built */
  ready: boolean;
  /** could not be opened: the next request reports why and is then forgotten */
  failed?: boolean;
  /** entries indexed so far, while it is built */
  indexed: { entries: number };
  users: number;
  /** pushed out by newer ones: closed when its last user is done */
  dropped: boolean;
}

const closeHeld = (held: HeldRevision) => held.opened.then((o) => o.index.close()).catch(() => {});

export interface StorageSummary {
  name: string;
  /** the storage's URL as written in preferences (credentials are never part of a URL dbk accepts) */
  url: string;
}

export class ServedStorages {
  private readonly repos = new Map<string, Repository>();
  private readonly passwords = new Map<string, string>();
  private readonly revisions = new Map<string, HeldRevision>();
  private readonly loaded = new Map<string, Promise<Revision>>();
  readonly chunkCache = new ChunkCache();

  private constructor(
    readonly repoDir: string,
    /** the folder backed up and restored into (init -repository), the repository folder by default */
    readonly rootDir: string,
    readonly list: StorageSummary[],
    private readonly log: Logger | undefined,
    private readonly threads: number | undefined,
  ) {}

  /** Opens every storage of the repository folder; a password not in the environment is asked now, once. */
  static async open(o: Pick<OpenOptions, 'repoDir' | 'log' | 'askPassword' | 'threads'> & { storage?: string }): Promise<ServedStorages> {
    const prefs = readPreferences(o.repoDir);
    const chosen = o.storage === undefined ? prefs.storages : [storagePreference(prefs, o.storage)];
    const served = new ServedStorages(
      o.repoDir,
      prefs.root ?? o.repoDir,
      chosen.map((s) => ({ name: s.name, url: s.url })),
      o.log,
      o.threads,
    );
    try {
      for (const { name } of served.list) {
        const ask = o.askPassword;
        const remember = ask && (async (prompt: string) => served.passwords.get(name) ?? served.passwords.set(name, await ask(prompt)).get(name)!);
        served.repos.set(name, await Repository.open({ ...served.openOptions(name), ...(remember ? { askPassword: remember } : {}) }));
      }
    } catch (e) {
      await served.close();
      throw e;
    }
    return served;
  }

  /** Options for a command run on a storage (a job): the password given at start, no prompt. */
  openOptions(storage: string, signal?: AbortSignal): OpenOptions {
    const password = this.passwords.get(storage);
    return {
      repoDir: this.repoDir,
      storageName: storage,
      ...(this.log ? { log: this.log } : {}),
      ...(this.threads ? { threads: this.threads } : {}),
      ...(password !== undefined ? { askPassword: async () => password } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  repo(storage: string): Repository {
    const repo = this.repos.get(storage);
    if (!repo) throw new DbkError('NOT_FOUND', `no storage named '${storage}' here`);
    return repo;
  }

  /** The revisions of a snapshot id, read a few at a time and remembered (a revision file never changes). */
  async revisionsOf(storage: string, snapshotId: string): Promise<Revision[]> {
    const repo = this.repo(storage);
    const limit = pLimit(Math.max(4, this.threads ?? 4));
    const numbers = await repo.listRevisions(snapshotId);
    return Promise.all(
      numbers.map((n) => {
        const key = `${storage}\n${snapshotId}\n${n}`;
        let r = this.loaded.get(key);
        if (!r) {
          r = limit(() => repo.loadRevision(snapshotId, n));
          this.loaded.set(key, r);
          r.catch(() => this.loaded.delete(key));
        }
        return r;
      }),
    );
  }

  /**
   * Runs `use` with a revision ready to browse and read; its index is built on first use. The newest
   * few stay open; one pushed out is closed once nothing uses it (a folder still streaming as a tar).
   */
  async withRevision<T>(storage: string, snapshotId: string, revision: number, use: (o: OpenedRevision) => Promise<T>): Promise<T> {
    const held = this.hold(storage, snapshotId, revision);
    held.users++;
    try {
      return await use(await held.opened);
    } finally {
      if (--held.users === 0 && held.dropped) closeHeld(held);
    }
  }

  /**
   * Whether a revision is ready to browse, starting to open it if need be; while its index is being
   * built, how many entries are in so far (a revision of millions takes seconds the first time).
   */
  async readiness(storage: string, snapshotId: string, revision: number): Promise<{ ready: true } | { ready: false; entries: number }> {
    const held = this.hold(storage, snapshotId, revision);
    // most revisions open at once: only a slow one is answered with its progress
    await Promise.race([held.opened.catch(() => {}), new Promise((resolve) => setTimeout(resolve, QUICK_OPEN_MS))]);
    if (held.failed) await held.opened; // its error, as any request would get it
    return held.ready ? { ready: true } : { ready: false, entries: held.indexed.entries };
  }

  /** The revision's place among those held open (made the newest), opened on first use. */
  private hold(storage: string, snapshotId: string, revision: number): HeldRevision {
    const key = `${storage}\n${snapshotId}\n${revision}`;
    let held = this.revisions.get(key);
    if (held) {
      this.revisions.delete(key);
      if (held.failed) return held; // its failure is reported once; the next request tries again
    } else {
      const indexed = { entries: 0 };
      const fresh: HeldRevision = { opened: this.openRevision(storage, snapshotId, revision, indexed), indexed, users: 0, dropped: false, ready: false };
      fresh.opened.then(
        () => (fresh.ready = true),
        () => (fresh.failed = true),
      );
      held = fresh;
    }
    this.revisions.set(key, held);
    for (const [k, old] of this.revisions) {
      if (this.revisions.size <= OPEN_REVISIONS) break;
      this.revisions.delete(k);
      old.dropped = true;
      if (old.users === 0) closeHeld(old);
    }
    return held;
  }

  private async openRevision(storage: string, snapshotId: string, revision: number, indexed: { entries: number }): Promise<OpenedRevision> {
    const repo = this.repo(storage);
    const r = (await this.revisionsOf(storage, snapshotId)).find((x) => x.revision === revision);
    if (!r) throw new DbkError('NOT_FOUND', `revision ${revision} of '${snapshotId}' does not exist`);
    const [index, content] = await Promise.all([RevisionIndex.open(repo, r, (p) => (indexed.entries = p.entries)), RevisionContent.open(repo, r, this.chunkCache)]);
    return { revision: r, index, content };
  }

  async close(): Promise<void> {
    for (const held of this.revisions.values()) closeHeld(held);
    this.revisions.clear();
    for (const repo of this.repos.values()) await repo.close();
    this.repos.clear();
  }
}
