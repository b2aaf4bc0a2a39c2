// The small pieces of HTTP every route shares: JSON in and out, errors as one line with the right
// status, and paths inside a revision checked before anything is looked up.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { DbkError, isDbkError } from '../errors.js';
import { nameFromBytes } from '../format/names.js';
import { checkSnapshotId } from '../format/revision.js';

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
  return pathname
    .split('/')
    .filter((s) => s !== '')
    .map((raw) => {
      const part = nameOfUrlPart(raw);
      if (part === '.' || part === '..' || part.includes('/') || part.includes('\0')) throw new HttpError(400, `not a part of a path: ${JSON.stringify(part)}`);
      return part;
    });
}

/** The name whose bytes a percent-encoded URL part holds (see url-names.ts); in a query (`plusIsSpace`) '+' is a space. */
export function nameOfUrlPart(raw: string, plusIsSpace = false): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new HttpError(400, 'a malformed escape in the URL');
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(plusIsSpace && raw[i] === '+' ? ' ' : raw[i]!, 'utf8'));
    }
  }
  return nameFromBytes(Buffer.from(bytes));
}

/** A query parameter's value, byte for byte (URLSearchParams would turn bytes that are not UTF-8 into U+FFFD). */
export function queryValue(url: URL, name: string): string | null {
  for (const pair of url.search.slice(1).split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (nameOfUrlPart(key, true) === name) return nameOfUrlPart(eq < 0 ? '' : pair.slice(eq + 1), true);
  }
  return null;
}

/** A snapshot id from a request: one the format allows (no path in it), else 400. */
export function snapshotIdOf(value: unknown): string {
  if (typeof value !== 'string') throw new HttpError(400, 'a snapshot id must be a string');
  try {
    return checkSnapshotId(value);
  } catch {
    throw new HttpError(400, `not a snapshot id: ${JSON.stringify(value)}`);
  }
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

/** Resolves when a stream may take more, or has closed: a client that left never leaves a writer waiting. */
export function drained(stream: { once(event: 'drain' | 'close', listener: () => void): unknown; off?(event: string, listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off?.('drain', done);
      stream.off?.('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

export const notFound = (what: string) => new DbkError('NOT_FOUND', what);
