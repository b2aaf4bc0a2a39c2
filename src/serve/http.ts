// The small pieces of HTTP every route shares: JSON in and out, errors as one line with the right
// status, and paths inside a revision checked before anything is looked up.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { DbkError, isDbkError } from '../errors.js';

const MAX_JSON_BODY = 64 << 10;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_OF_CODE: Record<string, number> = { NOT_FOUND: 404, USAGE: 400, CONFLICT: 409, ALREADY_EXISTS: 409, CONFIG: 400 };

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(body);
}

/** Any failure as `{ error }` with a status that says whose fault it is; after the headers went out, the connection is cut. */
export function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy(e instanceof Error ? e : undefined);
    return;
  }
  const status = e instanceof HttpError ? e.status : isDbkError(e) ? (STATUS_OF_CODE[e.code] ?? 500) : 500;
  const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  sendJson(res, status, { error: message });
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON (Content-Type: application/json)');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_JSON_BODY) throw new HttpError(413, `a request body is ${MAX_JSON_BODY} bytes at most`);
    parts.push(part);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * A path inside a revision, as a query or body value: '' is the top; otherwise relative, no empty,
 * '.' or '..' part, no NUL. Anything else is refused before it is looked up.
 */
export function revisionPathOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string') throw new HttpError(400, 'a path must be a string');
  const p = value.endsWith('/') ? value.slice(0, -1) : value;
  if (p.startsWith('/') || p.includes('\0') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new HttpError(400, `not a path inside a revision: ${JSON.stringify(value)}`);
  return p;
}

/**
 * The parts of a URL path after a prefix, each decoded on its own: an encoded slash, a NUL or a
 * '.' or '..' part is refused (400), so a decoded path never means more folders than its URL shows.
 */
export function urlPathParts(pathname: string): string[] {
  const parts = pathname.split('/').filter((s) => s !== '');
  return parts.map((raw) => {
    let part: string;
    try {
      part = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'a malformed escape in the path');
    }
    if (part === '.' || part === '..' || part.includes('/') || part.includes('\0')) throw new HttpError(400, `not a part of a path: ${JSON.stringify(part)}`);
    return part;
  });
}

export const required = (url: URL, name: string): string => {
  const v = url.searchParams.get(name);
  if (v === null || v === '') throw new HttpError(400, `missing ${name}`);
  return v;
};

export function integerOf(text: unknown, what: string): number {
  const n = typeof text === 'number' ? text : typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, `${what} must be a whole number`);
  return n;
}

export const notFound = (what: string) => new DbkError('NOT_FOUND', what);
