// A small S3 server that answers ListObjectsV2 alone, for bench/s3.ts: a bucket holding N
// synthetic chunk keys PREFIX/chunks/<2 hex>/<62 hex> (the Graph emulator's: the SHA-256 of
// "chunk i", so the same N gives the same keys, spread over the 256 prefix folders), listed as S3
// lists them (prefix, delimiter, max-keys up to 1,000, continuation-token, start-after; keys and
// common prefixes counted together) after a fixed latency per request. Its pages were the same as
// moto_server's for the same 300 keys under 18 sets of those parameters (2026-12-06). It checks no
// signature, holds the keys in one sorted array (~100 MB for a million), and runs in a process of
// its own so that its CPU is not the measured client's (as with the real service).
//
//   node dist/bench/s3-list-server.js [--objects 1000000] [--latency-ms 30] [--bucket bench] [--prefix dbk]
// Prints "s3 list server listening on http://127.0.0.1:PORT" once it serves. Besides S3:
//   GET /_bench/counters  {"requests": n, "pages": n} since the last reset (pages: ListObjectsV2 answered)
//   POST /_bench/reset    zeroes them

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { chunkPath } from '../test/support/graph-emulator/populate.js';

const MAX_KEYS = 1000;
/** one date for every object: what LastModified says does not matter to a listing */
const LAST_MODIFIED = '2026-12-06T00:00:00.000Z';

/** Every key of the bucket, in S3's order (UTF-8 bytes; plain < on these ASCII keys). */
function makeKeys(objects: number, prefix: string): string[] {
  const keys: string[] = new Array(objects);
  for (let i = 0; i < objects; i++) keys[i] = `${prefix}${chunkPath(i)}`;
  return keys.sort();
}

/** Index of the first key >= `s` (keys sorted). */
function lowerBound(keys: readonly string[], s: string): number {
  let [lo, hi] = [0, keys.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The least string after every string that starts with `p` (p is not empty). */
const pastPrefix = (p: string) => p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);

interface ListRequest {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  /** only what sorts after this is listed: start-after, or the last item of the previous page ('' for none) */
  after: string;
}

interface ListPage {
  keys: string[];
  commonPrefixes: string[];
  /** the last item listed, when more follow: what the next page starts after */
  truncatedAfter?: string;
}

/**
 * One page of a listing, as S3 (and moto) page: keys and common prefixes in one sorted sequence,
 * those after `after` listed up to maxKeys of the two together. A key holding the delimiter past
 * the prefix is rolled into its common prefix, which is listed once and skipped past whole; a
 * common prefix that does not sort after `after` (start-after named it) is not listed again.
 */
function listPage(keys: readonly string[], req: ListRequest): ListPage {
  const page: ListPage = { keys: [], commonPrefixes: [] };
  let last: string | undefined;
  let i = Math.max(lowerBound(keys, `${req.after}\0`), lowerBound(keys, req.prefix)); // the first key > after
  const inPrefix = () => i < keys.length && keys[i]!.startsWith(req.prefix);
  while (inPrefix() && page.keys.length + page.commonPrefixes.length < req.maxKeys) {
    const key = keys[i]!;
    const cut = req.delimiter === '' ? -1 : key.indexOf(req.delimiter, req.prefix.length);
    if (cut < 0) {
      page.keys.push((last = key));
      i++;
    } else {
      const common = key.slice(0, cut + req.delimiter.length);
      if (common > req.after) page.commonPrefixes.push((last = common));
      i = lowerBound(keys, pastPrefix(common));
    }
  }
  if (inPrefix() && last !== undefined) page.truncatedAfter = last;
  return page;
}

// ---- the wire ----

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
/** Tokens are opaque to clients: base64 of the item the next page starts after. */
const encodeToken = (item: string) => Buffer.from(item).toString('base64');
const decodeToken = (token: string) => Buffer.from(token, 'base64').toString();

/** Size and ETag of a synthetic chunk, derived from its key so that every listing agrees. */
function objectXml(key: string): string {
  const id = key.slice(key.length - 62);
  const size = 1024 + Number.parseInt(id.slice(0, 5), 16); // 1 KiB to 1 MiB
  return `<Contents><Key>${escapeXml(key)}</Key><LastModified>${LAST_MODIFIED}</LastModified><ETag>&quot;${id.slice(0, 32)}&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
}

function listXml(bucket: string, q: URLSearchParams, req: ListRequest, page: ListPage): string {
  const el = (name: string, value: string | number | boolean | undefined) => (value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`);
  const token = q.get('continuation-token');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    el('Name', bucket),
    el('Prefix', req.prefix),
    el('ContinuationToken', token ?? undefined),
    el('NextContinuationToken', page.truncatedAfter === undefined ? undefined : encodeToken(page.truncatedAfter)),
    el('KeyCount', page.keys.length + page.commonPrefixes.length),
    el('MaxKeys', req.maxKeys),
    req.delimiter === '' ? '' : el('Delimiter', req.delimiter),
    el('IsTruncated', page.truncatedAfter !== undefined),
    ...page.keys.map(objectXml),
    ...page.commonPrefixes.map((p) => `<CommonPrefixes>${el('Prefix', p)}</CommonPrefixes>`),
    token === null ? el('StartAfter', q.get('start-after') ?? undefined) : '', // echoed on the first page only, as moto does
    '</ListBucketResult>',
  ].join('');
}

/** The request's listing parameters, or why they are refused (S3's error code and message). */
function listRequest(q: URLSearchParams): ListRequest | { code: string; message: string } {
  const maxKeys = Number(q.get('max-keys') ?? MAX_KEYS);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) return { code: 'InvalidArgument', message: 'Provided max-keys not an integer or within integer range' };
  if (q.has('encoding-type')) return { code: 'InvalidArgument', message: 'encoding-type is not supported by this bench server' };
  const token = q.get('continuation-token');
  const prefix = q.get('prefix') ?? '';
  // as S3 does, a continuation token overrides start-after
  const after = token !== null ? decodeToken(token) : (q.get('start-after') ?? '');
  return { prefix, delimiter: q.get('delimiter') ?? '', maxKeys: Math.min(maxKeys, MAX_KEYS), after };
}

const errorXml = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;

interface Answer {
  status: number;
  xml: string;
}

/** The answer to one S3 request: a page of a listing, or S3's error for anything else. */
function answer(keys: readonly string[], bucket: string, method: string, url: URL): Answer {
  const name = url.pathname.replace(/^\/|\/$/g, '');
  if (name !== bucket) return { status: 404, xml: errorXml('NoSuchBucket', `no bucket ${name} here (only ${bucket})`) };
  if (method !== 'GET' || url.searchParams.get('list-type') !== '2') return { status: 501, xml: errorXml('NotImplemented', 'this bench server answers ListObjectsV2 alone') };
  const list = listRequest(url.searchParams);
  if ('code' in list) return { status: 400, xml: errorXml(list.code, list.message) };
  return { status: 200, xml: listXml(bucket, url.searchParams, list, listPage(keys, list)) };
}

// ---- the server ----

interface Counters {
  requests: number;
  /** ListObjectsV2 requests answered with a page */
  pages: number;
}

function handler(keys: readonly string[], bucket: string, latencyMs: number, counters: Counters): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/_bench/counters') return void res.end(JSON.stringify(counters));
    if (url.pathname === '/_bench/reset') {
      Object.assign(counters, { requests: 0, pages: 0 });
      return void res.end('{}');
    }
    counters.requests++;
    // the round trip to the service, which a listing pays once a page
    setTimeout(() => {
      const { status, xml } = answer(keys, bucket, req.method ?? 'GET', url);
      if (status === 200) counters.pages++;
      res.writeHead(status, { 'Content-Type': 'application/xml' });
      res.end(xml);
    }, latencyMs);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      objects: { type: 'string', default: '1000000' },
      'latency-ms': { type: 'string', default: '30' },
      bucket: { type: 'string', default: 'bench' },
      prefix: { type: 'string', default: 'dbk' },
    },
  });
  const prefix = values.prefix === '' ? '' : `${values.prefix.replace(/\/$/, '')}/`;
  const keys = makeKeys(Number(values.objects), prefix);
  const server = http.createServer(handler(keys, values.bucket, Number(values['latency-ms']), { requests: 0, pages: 0 }));
  server.keepAliveTimeout = 120_000; // a connection idle between timed runs stays usable
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`s3 list server listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`s3 list server: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
