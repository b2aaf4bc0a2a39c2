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
import type { Revision } from '../format/revision.js';
import { drained, HttpError } from './http.js';
import { percentEncodeName } from './url-names.js';

const EMPTY_SHA256 = createHash('sha256').digest();

/** A strong ETag: the content's SHA-256, so equal content has equal tags in every revision. */
export const etagOf = (e: FileEntry) => `"${(e.hash ?? EMPTY_SHA256).toString('hex')}"`;

export const lastModifiedOf = (e: FileEntry) => new Date(e.mtimeS * 1000).toUTCString();

/** `attachment` with the name in both forms browsers read (RFC 6266). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${percentEncodeName(name)}`;
}

/**
 * The one range a Range header asks for; undefined for the whole file: no header, several ranges,
 * one that is not valid (its last byte before its first) or an empty file, as RFC 9110 lets a
 * server ignore them. A valid range that starts past the end is not satisfiable (416).
 */
export function requestedRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '') || size === 0) return undefined;
  if (m[1] === '') return { start: Math.max(0, size - Number(m[2])), end: size };
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw new RangeNotSatisfiable(size);
  return { start, end: m[2] === '' ? size : Math.min(size, Number(m[2]) + 1) };
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

/** A folder of a revision as a .tar download, named after the folder (or the revision, for its top). */
export async function sendFolderAsTar(req: IncomingMessage, res: ServerResponse, o: { revision: Revision; index: RevisionIndex; content: RevisionContent }, e: FileEntry): Promise<void> {
  if (e.type !== 'dir') throw new HttpError(400, `${e.path || 'the top folder'} is not a folder`);
  const name = `${e.path === '' ? `${o.revision.snapshotId}-${o.revision.revision}` : path.posix.basename(e.path)}.tar`;
  res.writeHead(200, { 'content-type': 'application/x-tar', 'content-disposition': contentDisposition(name), 'cache-control': 'no-store' });
  if (req.method === 'HEAD') return void res.end();
  const tar = tarOfFolder(o.index, o.content, e.path);
  const sent = pipeline(tar.stream, res).catch((err: Error) => err);
  // the revision stays held while the producer reads it; if it failed, the response is cut short,
  // so the client never takes a truncated archive for a whole one
  const failure = await tar.finished;
  if (failure) res.destroy(failure);
  const unsent = await sent;
  if (unsent && !failure) throw unsent;
}

/** A name tar keeps in its 32-byte owner fields; a longer one (or one with NUL) is left out, never let overflow into the next field. */
const tarOwnerName = (name: string | undefined) => (name !== undefined && !name.includes('\0') && Buffer.byteLength(name) < 32 ? name : undefined);

/**
 * Everything inside a folder of a revision as a tar stream, its names starting with the folder's
 * own. `finished` settles once the producer has stopped (the caller holds the revision open until
 * then), with the error that stopped it, if any: content that fails its check, or a consumer gone.
 */
function tarOfFolder(index: RevisionIndex, content: RevisionContent, folder: string): { stream: Pack; finished: Promise<Error | undefined> } {
  const tar = pack();
  const top = folder === '' ? '' : path.posix.basename(folder);
  const nameOf = (p: string) => {
    const inside = folder === '' ? p : p.slice(folder.length + 1);
    return top === '' ? inside : `${top}/${inside}`;
  };
  const headerOf = (e: FileEntry, name: string) => {
    const uname = tarOwnerName(e.user);
    const gname = tarOwnerName(e.group);
    return { name, mode: e.mode, mtime: new Date(e.mtimeS * 1000), uid: e.uid, gid: e.gid, ...(uname ? { uname } : {}), ...(gname ? { gname } : {}) };
  };
  const finished = (async () => {
    const self = index.entry(folder);
    if (top !== '' && self) tar.entry({ ...headerOf(self, `${top}/`), type: 'directory' });
    for (const e of index.inside(folder)) {
      if (tar.destroyed) return;
      const header = headerOf(e, nameOf(e.path));
      if (e.type === 'dir') tar.entry({ ...header, name: `${header.name}/`, type: 'directory' });
      else if (e.type === 'symlink') tar.entry({ ...header, type: 'symlink', linkname: e.target ?? '' });
      else if (e.type === 'file') await writeEntry(tar, tar.entry({ ...header, type: 'file', size: e.size }), content.read(e));
      // fifos and devices have no content to download
    }
    tar.finalize();
  })().then(
    () => undefined,
    (err: Error) => {
      tar.destroy(err);
      return err;
    },
  );
  return { stream: tar, finished };
}

/** tar-stream's entries are streamx streams: written by hand, waiting for drain, so a slow client holds back the reading. */
async function writeEntry(tar: Pack, entry: ReturnType<Pack['entry']>, pieces: AsyncIterable<Buffer>): Promise<void> {
  entry.on('error', () => {}); // reported through the tar stream, which the response pipeline watches
  for await (const piece of pieces) {
    if (tar.destroyed || entry.destroyed) throw new Error('the download was abandoned');
    if (!entry.write(piece)) await drained(entry);
  }
  await new Promise<void>((resolve) => {
    entry.once('close', () => resolve());
    entry.end(() => resolve());
  });
  if (tar.destroyed) throw new Error('the download was abandoned');
}
