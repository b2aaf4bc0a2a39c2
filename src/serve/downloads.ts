// A file of a revision sent over HTTP (the console's download and WebDAV's GET): one byte range or
// all of it, with the headers clients rely on (size, ETag from the content's SHA-256, modification
// time), streamed with back-pressure from the chunks. A folder as a .tar is streamed the same way,
// entry by entry. Content that fails its check cuts the response short: a client never receives a
// complete-looking file whose bytes are wrong.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Pack, pack } from 'tar-stream';
import type { RevisionContent } from '../browse/file-content.js';
import type { RevisionIndex } from '../browse/revision-index.js';
import type { FileEntry } from '../format/file-list.js';
import { HttpError } from './http.js';

const EMPTY_SHA256 = createHash('sha256').digest();

/** A strong ETag: the content's SHA-256, so equal content has equal tags in every revision. */
export const etagOf = (e: FileEntry) => `"${(e.hash ?? EMPTY_SHA256).toString('hex')}"`;

export const lastModifiedOf = (e: FileEntry) => new Date(e.mtimeS * 1000).toUTCString();

/** `attachment` with the name in both forms browsers read (RFC 6266). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** The one range a Range header asks for; undefined for the whole file (no header, or several ranges). */
export function requestedRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
  }
  if (start >= size || end <= start) throw new RangeNotSatisfiable(size);
  return { start, end };
}

export class RangeNotSatisfiable extends HttpError {
  constructor(readonly size: number) {
    super(416, `the range asked for lies beyond the file's ${size} bytes`);
  }
}

export async function sendFileContent(req: IncomingMessage, res: ServerResponse, content: RevisionContent, e: FileEntry, o: { download: boolean }): Promise<void> {
  if (e.type !== 'file') throw new HttpError(400, `${e.path} is not a file`);
  const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', etag: etagOf(e), 'last-modified': lastModifiedOf(e), 'content-type': 'application/octet-stream' };
  if (o.download) headers['content-disposition'] = contentDisposition(path.posix.basename(e.path));
  let range: { start: number; end: number } | undefined;
  try {
    const ifRange = req.headers['if-range'];
    range = ifRange === undefined || ifRange === etagOf(e) ? requestedRange(req.headers.range, e.size) : undefined;
  } catch (err) {
    if (!(err instanceof RangeNotSatisfiable)) throw err;
    res.writeHead(416, { 'content-range': `bytes */${e.size}` }).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: e.size };
  headers['content-length'] = end - start;
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${e.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(Readable.from(content.read(e, start, end), { objectMode: false }), res);
}

/** Everything inside a folder of a revision as a tar stream, its names starting with the folder's own. */
export function tarOfFolder(index: RevisionIndex, content: RevisionContent, folder: string): Pack {
  const tar = pack();
  const top = folder === '' ? '' : path.posix.basename(folder);
  const nameOf = (p: string) => {
    const inside = folder === '' ? p : p.slice(folder.length + 1);
    return top === '' ? inside : `${top}/${inside}`;
  };
  (async () => {
    const headerOf = (e: FileEntry, name: string) => ({
      name,
      mode: e.mode,
      mtime: new Date(e.mtimeS * 1000),
      uid: e.uid,
      gid: e.gid,
      ...(e.user ? { uname: e.user } : {}),
      ...(e.group ? { gname: e.group } : {}),
    });
    const self = index.entry(folder);
    if (top !== '' && self) tar.entry({ ...headerOf(self, `${top}/`), type: 'directory' });
    for (const e of index.inside(folder)) {
      const header = headerOf(e, nameOf(e.path));
      if (e.type === 'dir') tar.entry({ ...header, name: `${header.name}/`, type: 'directory' });
      else if (e.type === 'symlink') tar.entry({ ...header, type: 'symlink', linkname: e.target ?? '' });
      else if (e.type === 'file') await writeEntry(tar.entry({ ...header, type: 'file', size: e.size }), content.read(e));
      // fifos and devices have no content to download
    }
    tar.finalize();
  })().catch((err) => tar.destroy(err));
  return tar;
}

/** tar-stream's entries are streamx streams: written by hand, waiting for drain, so a slow client holds back the reading. */
async function writeEntry(entry: ReturnType<Pack['entry']>, pieces: AsyncIterable<Buffer>): Promise<void> {
  for await (const piece of pieces) if (!entry.write(piece)) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    entry.once('error', reject);
    entry.end(resolve);
  });
}
