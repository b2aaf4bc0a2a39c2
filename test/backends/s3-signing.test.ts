// Requests to S3 are signed (SigV4), which moto does not check: a verifier of our own, written
// from AWS's specification and held to AWS's published examples, checks every request the S3
// backend sends to a recording server. The same server answers 503 SlowDown to show that
// throttling pauses every request of the storage, not just the refused one.

import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Config } from '../../backends/s3/config.js';
import { S3Backend } from '../../backends/s3/s3.js';
import { makeSettings } from '../../src/settings.js';

interface SignedRequest {
  method: string;
  /** the path as sent, percent-encoded */
  path: string;
  /** the query string as sent, without '?' */
  query: string;
  headers: Record<string, string>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const EMPTY = sha256('');

/** RFC 3986 encoding of a query name or value, as SigV4 wants it. */
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The signature SigV4 gives a request, from the Authorization header's scope and signed headers. */
function expectedSignature(req: SignedRequest, secret: string): { given: string; expected: string; signedHeaders: string[] } {
  const m = /^AWS4-HMAC-SHA256 Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
  if (!m) throw new Error(`not a SigV4 Authorization header: ${req.headers.authorization}`);
  const [, date, region, service, names, given] = m as unknown as [string, string, string, string, string, string];
  const signedHeaders = names.split(';');
  const query = req.query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const [k, v = ''] = p.split('=');
      return [encode(decodeURIComponent(k!)), encode(decodeURIComponent(v))];
    })
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, req.path, query, canonicalHeaders, names, req.headers['x-amz-content-sha256'] ?? EMPTY].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', req.headers['x-amz-date'], scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return { given, expected: createHmac('sha256', key).update(toSign).digest('hex'), signedHeaders };
}

describe('the SigV4 verifier, on AWS published examples', () => {
  it('the signature test suite: get-vanilla', () => {
    const req: SignedRequest = {
      method: 'GET',
      path: '/',
      query: '',
      headers: {
        host: 'example.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
      },
    };
    const { given, expected } = expectedSignature(req, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
    expect(expected).toBe(given);
  });

  const s3Example = (path: string, query: string, extra: Record<string, string>, names: string, signature: string): SignedRequest => ({
    method: 'GET',
    path,
    query,
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': EMPTY,
      'x-amz-date': '20130524T000000Z',
      ...extra,
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=${names}, Signature=${signature}`,
    },
  });
  const S3_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  it("Amazon S3's examples: GET Object with a range, and a bucket listing", () => {
    const get = s3Example('/test.txt', '', { range: 'bytes=0-9' }, 'host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
    const list = s3Example('/', 'max-keys=2&prefix=J', {}, 'host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
    for (const req of [get, list]) {
      const { given, expected } = expectedSignature(req, S3_SECRET);
      expect(expected).toBe(given);
    }
    // and it is no rubber stamp: one header changed, the signature no longer holds
    const tampered = { ...get, headers: { ...get.headers, range: 'bytes=0-10' } };
    const { given, expected } = expectedSignature(tampered, S3_SECRET);
    expect(expected).not.toBe(given);
  });
});

describe('the S3 backend against a recording server', () => {
  const seen: (SignedRequest & { body: Buffer; at: number })[] = [];
  const stored = new Map<string, Buffer>();
  let throttleNext = 0;
  let server: http.Server;
  let port: number;
  const KEY = 'AKIDTESTSIGNING',
    SECRET = 'secret/with+signs=',
    TOKEN = 'session-token-value';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        const [path = '/', query = ''] = url.split('?');
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method ?? '', path, query, headers, body, at: Date.now() });
        if (throttleNext > 0) {
          throttleNext--;
          res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
          return;
        }
        const key = decodeURIComponent(path);
        if (req.method === 'PUT') {
          stored.set(key, body);
          res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` }).end();
        } else if (req.method === 'GET' && query.includes('list-type=2')) {
          res
            .writeHead(200, { 'content-type': 'application/xml' })
            .end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bucket</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
        } else if (req.method === 'GET' || req.method === 'HEAD') {
          const data = stored.get(key);
          if (!data) res.writeHead(404, { 'content-type': 'application/xml' }).end(req.method === 'HEAD' ? undefined : '<Error><Code>NoSuchKey</Code></Error>');
          else res.writeHead(200, { 'content-length': data.length }).end(req.method === 'HEAD' ? undefined : data);
        } else {
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const open = () =>
    new S3Backend(
      s3Config(
        `s3+http://127.0.0.1:${port}/bucket/pre fix`,
        makeSettings('signing', { s3_access_key_id: KEY, s3_secret_access_key: SECRET, s3_session_token: TOKEN, s3_region: 'eu-west-3' }, {}),
        '/',
      ),
      { threads: 4 },
    );

  it('signs every request it sends (SigV4, session token included) and never sends the secret', async () => {
    seen.length = 0;
    const b = open();
    try {
      await b.write('chunks/ab/cd ëf', Buffer.from('payload bytes'));
      expect((await b.read('chunks/ab/cd ëf')).toString()).toBe('payload bytes');
      expect(await b.stat('chunks/ab/missing')).toBeUndefined();
      await b.list('chunks/ab');
      await b.delete('chunks/ab/cd ëf');
    } finally {
      await b.close();
    }
    expect(seen.map((r) => r.method)).toEqual(['PUT', 'GET', 'HEAD', 'GET', 'GET', 'DELETE']);
    for (const req of seen) {
      const { given, expected, signedHeaders } = expectedSignature(req, SECRET);
      expect(expected, `${req.method} ${req.path}?${req.query}`).toBe(given);
      expect(req.headers.authorization).toContain(`Credential=${KEY}/`);
      expect(req.headers.authorization).toContain('/eu-west-3/s3/aws4_request');
      expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token']));
      expect(req.headers['x-amz-security-token']).toBe(TOKEN);
      expect(JSON.stringify(req.headers) + req.path + req.query).not.toContain(SECRET);
      const payload = req.headers['x-amz-content-sha256'];
      if (payload && payload !== 'UNSIGNED-PAYLOAD') expect(payload).toBe(sha256(req.body));
    }
    expect(seen[0]!.headers['if-none-match']).toBe('*'); // write-once
    expect(seen[0]!.path).toBe('/bucket/pre%20fix/chunks/ab/cd%20%C3%ABf');
  });

  it('a 503 SlowDown pauses every request of the storage, then they go on', async () => {
    seen.length = 0;
    const b = open();
    try {
      throttleNext = 1;
      await expect(b.stat('a')).rejects.toMatchObject({ code: 'TRANSIENT' });
      const refusedAt = seen[0]!.at;
      await Promise.all(['b', 'c', 'd'].map((p) => b.stat(p)));
      const next = seen.slice(1).map((r) => r.at - refusedAt);
      expect(next).toHaveLength(3 * 2); // each a HEAD and the folder probe
      expect(Math.min(...next)).toBeGreaterThanOrEqual(90); // the first pause is 100–200 ms
    } finally {
      await b.close();
    }
  });
});
