// The console's JSON API under /api/: what the page reads (session, overview, revisions, diff, a
// folder of a revision, a file, a folder as .tar, logs) and the jobs it runs. Every route checks its
// parameters before it looks anything up; access and CSRF are checked before a route is reached.

import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { diffStream } from '../commands/diff.js';
import type { FileEntry } from '../format/file-list.js';
import type { Revision } from '../format/revision.js';
import { DBK_DIR } from '../storage/preferences.js';
import type { Access } from './access.js';
import { sendFileContent, sendFolderAsTar } from './downloads.js';
import { HttpError, integerOf, queryValue, readJson, required, revisionPathOf, sendJson, snapshotIdOf } from './http.js';
import type { Jobs } from './jobs.js';
import { Overviews } from './overview.js';
import { streamJobEvents } from './server-events.js';
import type { ServedStorages } from './storages.js';
import type { Diff, DiffItem, Entry, LogFile, Revision as RevisionView, Session, TreeIndexing, TreePage } from './wire.js';

const TREE_PAGE = 1000;
const TREE_PAGE_MAX = 10_000;
const DIFF_ITEMS = 5000;
const LOG_NAME = /^[\w.-]+\.log$/;

export class Api {
  private readonly overviews: Overviews;

  constructor(
    private readonly storages: ServedStorages,
    private readonly jobs: Jobs,
    private readonly access: Access,
    private readonly version: string,
  ) {
    this.overviews = new Overviews(storages);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = url.pathname.slice('/api/'.length);
    const post = req.method === 'POST';
    if (!post && req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed here`);
    if (post && !this.access.csrfAllowed(req)) throw new HttpError(403, 'a change must come from the console itself (CSRF check failed)');
    const job = /^jobs\/([\w-]+)(?:\/(events|cancel))?$/.exec(route);
    if (job) return this.jobRoute(req, res, job[1]!, job[2], post);
    if (route.startsWith('logs/')) return this.logFile(req, res, route.slice('logs/'.length));
    if (post) {
      if (route !== 'jobs') throw new HttpError(404, `no POST route /api/${route}`);
      return sendJson(res, 201, { job: this.jobs.start(await readJson(req)) });
    }
    switch (route) {
      case 'session':
        return sendJson(res, 200, { csrf: this.access.csrf, repository: this.storages.rootDir, version: this.version, storages: this.storages.list } satisfies Session);
      case 'overview': {
        const o = this.overviews.get(this.storageOf(url), url.searchParams.get('refresh') === '1');
        return sendJson(res, o.state === 'ready' ? 200 : 202, o);
      }
      case 'revisions':
        return sendJson(res, 200, (await this.revisionsOf(url)).map(revisionView));
      case 'diff':
        return this.diff(res, url);
      case 'tree':
        return this.tree(res, url);
      case 'file':
        return this.withEntry(url, (o, e) => sendFileContent(req, res, o.content, e, { download: true }));
      case 'tar':
        return this.withEntry(url, (o, e) => sendFolderAsTar(req, res, o, e));
      case 'jobs':
        return sendJson(res, 200, this.jobs.list());
      case 'logs':
        return sendJson(res, 200, this.logList());
      default:
        throw new HttpError(404, `no route /api/${route}`);
    }
  }

  private storageOf(url: URL): string {
    return url.searchParams.get('storage') ?? this.storages.list[0]?.name ?? '';
  }

  private idOf(url: URL, storage: string): string {
    const id = url.searchParams.get('id');
    return id === null ? this.storages.repo(storage).snapshotId : snapshotIdOf(id);
  }

  private revisionsOf(url: URL): Promise<Revision[]> {
    const storage = this.storageOf(url);
    return this.storages.revisionsOf(storage, this.idOf(url, storage));
  }

  private async diff(res: ServerResponse, url: URL): Promise<void> {
    const storage = this.storageOf(url);
    const items: DiffItem[] = [];
    let truncated = false;
    const from = integerOf(required(url, 'from'), 'from');
    const to = integerOf(required(url, 'to'), 'to');
    for await (const d of diffStream({ ...this.storages.openOptions(storage), snapshotId: this.idOf(url, storage), from, to })) {
      if (items.length === DIFF_ITEMS) {
        truncated = true;
        break;
      }
      const e = d.after ?? d.before!;
      items.push({ change: d.change, path: d.path, type: e.type, ...(d.before ? { sizeBefore: d.before.size } : {}), ...(d.after ? { sizeAfter: d.after.size } : {}) });
    }
    sendJson(res, 200, { items, truncated } satisfies Diff);
  }

  private async tree(res: ServerResponse, url: URL): Promise<void> {
    const offset = integerOf(url.searchParams.get('offset') ?? '0', 'offset');
    const limit = Math.min(TREE_PAGE_MAX, integerOf(url.searchParams.get('limit') ?? String(TREE_PAGE), 'limit'));
    // the first look into a large revision builds its index: the page is told how far along it is
    const storage = this.storageOf(url);
    const readiness = await this.storages.readiness(storage, this.idOf(url, storage), integerOf(required(url, 'r'), 'r'));
    if (!readiness.ready) return sendJson(res, 202, { state: 'indexing', entries: readiness.entries } satisfies TreeIndexing);
    return this.withEntry(url, async (o, folder) => {
      if (folder.type !== 'dir') throw new HttpError(400, `${folder.path} is not a folder`);
      const { total, entries } = o.index.children(folder.path, offset, limit);
      sendJson(res, 200, { path: folder.path, total, entries: entries.map(entryView) } satisfies TreePage);
    });
  }

  /** The entry at ?path= in revision ?r= of ?id= on ?storage=; 404 when there is none. */
  private withEntry(url: URL, use: (o: Parameters<Parameters<ServedStorages['withRevision']>[3]>[0], e: FileEntry) => Promise<void>): Promise<void> {
    const storage = this.storageOf(url);
    const revision = integerOf(required(url, 'r'), 'r');
    const p = revisionPathOf(queryValue(url, 'path'));
    return this.storages.withRevision(storage, this.idOf(url, storage), revision, async (o) => {
      const e = o.index.entry(p);
      if (!e) throw new HttpError(404, `revision ${revision} has no ${p}`);
      await use(o, e);
    });
  }

  private async jobRoute(req: IncomingMessage, res: ServerResponse, id: string, action: string | undefined, post: boolean): Promise<void> {
    if (post !== (action === 'cancel')) throw new HttpError(405, `${req.method} is not allowed here`);
    if (action === 'cancel') return sendJson(res, 200, { job: this.jobs.cancel(id) });
    if (action === 'events') return streamJobEvents(req, res, this.jobs, id);
    sendJson(res, 200, this.jobs.get(id));
  }

  private logsDir(): string {
    return path.join(this.storages.repoDir, DBK_DIR, 'logs');
  }

  private logList(): LogFile[] {
    const names = fs.existsSync(this.logsDir()) ? fs.readdirSync(this.logsDir()).filter((n) => LOG_NAME.test(n)) : [];
    return names
      .map((name) => {
        const st = fs.statSync(path.join(this.logsDir(), name));
        return { name, size: st.size, mtime: st.mtimeMs };
      })
      .sort((a, b) => b.mtime - a.mtime);
  }

  private async logFile(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!LOG_NAME.test(name)) throw new HttpError(400, `not a log name: ${JSON.stringify(name)}`);
    const file = path.join(this.logsDir(), name);
    const st = await fs.promises.stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new HttpError(404, `no log ${name}`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': st.size, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    await pipeline(fs.createReadStream(file), res);
  }
}

function revisionView(r: Revision): RevisionView {
  return { revision: r.revision, startTime: r.startTime, endTime: r.endTime, tag: r.tag, files: r.fileCount, fileBytes: r.fileBytes };
}

export function entryView(e: FileEntry & { name?: string }): Entry {
  const v: Entry = {
    name: e.name ?? path.posix.basename(e.path),
    path: e.path,
    type: e.type,
    size: e.size,
    mode: e.mode,
    mtime: e.mtimeS * 1000 + Math.floor(e.mtimeNs / 1e6),
    uid: e.uid,
    gid: e.gid,
  };
  if (e.user !== undefined) v.user = e.user;
  if (e.group !== undefined) v.group = e.group;
  if (e.target !== undefined) v.target = e.target;
  return v;
}
