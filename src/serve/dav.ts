// Read-only WebDAV (RFC 4918, class 1) of every revision under /dav/:
//   /dav/<storage>/<snapshot id>/<revision>/<path…>
// OPTIONS, PROPFIND (depth 0 or 1), GET with one byte range, and HEAD; anything that would change
// something is 405. Our own handler rather than a library: the maintained WebDAV servers for Node
// are read-write file-system servers whose virtual-file-system layers hold listings in memory and
// buffer content, where this needs a folder of 50,000 entries streamed from an index page by page
// and a range read that fetches only the chunks it covers — a few hundred lines of protocol.
// Files and folders are shown; symlinks and special files have no content to read and are left out.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IndexedEntry } from '../browse/revision-index.js';
import { etagOf, sendFileContent } from './downloads.js';
import { drained, HttpError, integerOf, snapshotIdOf, urlPathParts } from './http.js';
import type { ServedStorages } from './storages.js';
import { percentEncodeName } from './url-names.js';

export const DAV_PREFIX = '/dav';
/** entries read and written at a time: a page of names of 64 KiB each (the most a path may have) is still 64 MB */
const LISTING_PAGE = 1000;
const ALLOW = 'OPTIONS, GET, HEAD, PROPFIND';

interface Resource {
  /** the parts of its path below /dav/ */
  parts: string[];
  collection: boolean;
  size?: number;
  modified?: Date;
  etag?: string;
}

export async function handleDav(req: IncomingMessage, res: ServerResponse, url: URL, storages: ServedStorages): Promise<void> {
  const parts = urlPathParts(url.pathname.slice(DAV_PREFIX.length));
  switch (req.method) {
    case 'OPTIONS':
      res.writeHead(200, { dav: '1', allow: ALLOW, 'ms-author-via': 'DAV', 'content-length': 0 }).end();
      return;
    case 'PROPFIND':
      return propfind(req, res, parts, storages);
    case 'GET':
    case 'HEAD':
      return get(req, res, parts, storages);
    default:
      res.writeHead(405, { allow: ALLOW, 'content-type': 'text/plain' }).end('dbk serves revisions read-only\n');
  }
}

async function get(req: IncomingMessage, res: ServerResponse, parts: string[], storages: ServedStorages): Promise<void> {
  if (parts.length < 4) return folderProbe(req, res, parts, storages);
  const [storage, id, rev, ...inside] = parts as [string, string, string, ...string[]];
  await storages.withRevision(storage, snapshotIdOf(id), integerOf(rev, 'revision'), async (o) => {
    const e = o.index.entry(inside.join('/'));
    if (!e || !shown(e)) throw new HttpError(404, 'no such file in this revision');
    if (e.type === 'dir') return folderProbe(req, res, parts, storages);
    await sendFileContent(req, res, o.content, e, { download: false });
  });
}

/** HEAD of a folder that exists: 200 (clients probe folders so); GET of one: 405, since a folder is listed with PROPFIND. */
async function folderProbe(req: IncomingMessage, res: ServerResponse, parts: string[], storages: ServedStorages): Promise<void> {
  await visit(parts, storages, false, async () => {}); // 404 for what is not there
  if (req.method !== 'HEAD') throw new HttpError(405, 'a folder: list it with PROPFIND');
  res.writeHead(200, { 'content-length': 0 }).end();
}

async function propfind(req: IncomingMessage, res: ServerResponse, parts: string[], storages: ServedStorages): Promise<void> {
  req.resume(); // the body names properties; every response carries all of them
  const depth = req.headers.depth ?? 'infinity';
  if (depth !== '0' && depth !== '1') {
    res.writeHead(403, { 'content-type': 'application/xml; charset=utf-8' }).end('<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n');
    return;
  }
  await visit(parts, storages, depth === '1', async (page) => {
    if (!res.headersSent) {
      res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store' });
      res.write('<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n');
    }
    if (res.destroyed) throw new Error('the client went away');
    if (!res.write(page.map(responseXml).join(''))) await drained(res);
  });
  res.end('</D:multistatus>\n');
}

/**
 * Hands `write` the resource at `parts` and, with children, what it holds, a page at a time; the
 * first page is the resource itself, so a missing one fails (404) before anything is written. A
 * large folder is read from its index page by page while the response goes out.
 */
async function visit(parts: string[], storages: ServedStorages, children: boolean, write: (page: Resource[]) => Promise<void>): Promise<void> {
  const folder = (p: string[], modified?: Date): Resource => ({ parts: p, collection: true, ...(modified ? { modified } : {}) });
  if (parts.length === 0) {
    await write([folder([])]);
    if (children) await write(storages.list.map((s) => folder([s.name])));
    return;
  }
  const [storage, id, rev, ...inside] = parts as [string, string?, string?, ...string[]];
  const repo = storages.repo(storage);
  if (id === undefined) {
    await write([folder(parts)]);
    if (children) await write((await repo.listSnapshotIds()).map((i) => folder([storage, i])));
    return;
  }
  const revisions = await storages.revisionsOf(storage, snapshotIdOf(id));
  if (rev === undefined) {
    if (revisions.length === 0) throw new HttpError(404, `no revisions of '${id}'`);
    await write([folder(parts)]);
    if (children) await write(revisions.map((r) => folder([storage, id, String(r.revision)], new Date(r.startTime))));
    return;
  }
  await storages.withRevision(storage, id, integerOf(rev, 'revision'), async (o) => {
    const e = o.index.entry(inside.join('/'));
    if (!e || !shown(e)) throw new HttpError(404, 'no such file or folder in this revision');
    await write([resourceOf(parts, e)]);
    if (!children || e.type !== 'dir') return;
    const prefix = [storage, id, rev];
    for (let after = -1; ; ) {
      const entries = o.index.childrenAfter(e.path, after, LISTING_PAGE);
      await write(entries.filter(shown).map((c) => resourceOf([...prefix, ...c.path.split('/')], c)));
      if (entries.length < LISTING_PAGE) break;
      after = entries.at(-1)!.pos;
    }
  });
}

const shown = (e: IndexedEntry) => e.type === 'file' || e.type === 'dir';

function resourceOf(parts: string[], e: IndexedEntry): Resource {
  const modified = new Date(e.mtimeS * 1000);
  return e.type === 'dir' ? { parts, collection: true, modified } : { parts, collection: false, size: e.size, modified, etag: etagOf(e) };
}

// XML's five predefined entities, not character references: the `webdav` npm client's parser
// (fast-xml-parser) decodes only these, and would show a name with ' or an ETag's quotes as `&#39;`.
const XML_ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => XML_ENTITIES[c]!);
/** Text XML 1.0 can carry: characters it forbids (a name may hold any byte but '/' and NUL) shown as U+FFFD, a CR kept as a reference. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces
const xmlText = (s: string) => escapeXml(s.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, '\uFFFD')).replace(/\r/g, '&#13;');

function responseXml(r: Resource): string {
  const href = r.parts.length === 0 ? `${DAV_PREFIX}/` : `${DAV_PREFIX}/${r.parts.map((p) => percentEncodeName(p)).join('/')}${r.collection ? '/' : ''}`;
  const name = r.parts.at(-1) ?? '';
  const props = [
    `<D:displayname>${xmlText(name)}</D:displayname>`,
    r.collection ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>',
    r.modified ? `<D:getlastmodified>${r.modified.toUTCString()}</D:getlastmodified>` : '',
    r.size === undefined ? '' : `<D:getcontentlength>${r.size}</D:getcontentlength><D:getcontenttype>application/octet-stream</D:getcontenttype>`,
    r.etag ? `<D:getetag>${escapeXml(r.etag)}</D:getetag>` : '',
  ].join('');
  return `<D:response><D:href>${escapeXml(href)}</D:href><D:propstat><D:prop>${props}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n`;
}
