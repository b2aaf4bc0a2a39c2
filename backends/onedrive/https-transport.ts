// HTTPS for the OneDrive backend: node:https with one keep-alive agent per storage, so `threads`
// requests share warm connections and extra CAs (odb_ca_file) can be trusted in-process, which
// Node's global fetch cannot do without an extra dependency. It serves the Graph SDK as its last
// middleware, and is called directly for the URLs that must not see the bearer token (upload
// session URLs, download locations).

import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { DbkError } from '../../src/errors.js';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The connection failed or broke before a whole response arrived. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface TransportOptions {
  /** extra CA certificates file (PEM), trusted besides the usual ones */
  caFile?: string;
  maxSockets: number;
  userAgent: string;
  /** idle socket time after which a request fails, ms */
  timeoutMs?: number;
}

export class HttpsTransport {
  private readonly agent: Agent;

  constructor(private readonly options: TransportOptions) {
    // one secure context for all connections: passing `ca` instead would make the agent parse the CA
    // list for every connection and stringify it into the pool key of every request
    const secureContext = options.caFile ? createSecureContext({ ca: trustedCas(options.caFile) }) : undefined;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets, ...(secureContext ? { secureContext } : {}) });
  }

  send(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent, ...req.headers };
    if (req.body) headers['Content-Length'] = String(req.body.length);
    return new Promise((resolve, reject) => {
      const r = request(req.url, { method: req.method, headers, agent: this.agent, signal, timeout: this.options.timeoutMs ?? 120_000 }, (res) => {
        const body = new BodyCollector(Number(res.headers['content-length']));
        res.on('data', (d: Buffer) => body.add(d));
        res.on('error', (e) => reject(new NetworkError(`${req.method} response broke off: ${e.message}`, { cause: e })));
        res.on('end', () => {
          if (!res.complete) return reject(new NetworkError(`${req.method} response broke off`));
          resolve({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), body: body.bytes() });
        });
      });
      r.on('timeout', () => r.destroy(new Error('no answer within the time limit')));
      r.on('error', (e) => reject(signal?.aborted ? signal.reason : new NetworkError(`${req.method} failed: ${e.message}`, { cause: e })));
      r.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * What the middleware hands the SDK: the parts of a fetch Response it reads (status, ok, headers,
 * json, text, arrayBuffer) over bytes already received. A listing page or $batch answer is up to
 * megabytes of JSON; a real Response would wrap them in a web stream only to copy and decode them
 * again. Callers that ask for ResponseType.RAW get this object and parse `bytes` themselves.
 */
export class BufferedResponse {
  readonly ok: boolean;
  readonly body = null;

  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly bytes: Buffer,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.bytes.toString('utf8'));
  }

  async text(): Promise<string> {
    return this.bytes.toString('utf8');
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes.buffer.slice(this.bytes.byteOffset, this.bytes.byteOffset + this.bytes.byteLength) as ArrayBuffer;
  }
}

/** The SDK's last middleware: sends through the transport and follows a download's redirect without the token. */
export class TransportMiddleware implements Middleware {
  constructor(private readonly transport: HttpsTransport) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const options = context.options ?? {};
    const method = (options.method ?? 'GET').toUpperCase();
    let res = await this.transport.send({ method, url, headers: headerRecord(options.headers), body: bodyBuffer(options.body) }, options.signal ?? undefined);
    const location = res.headers.get('location');
    if (method === 'GET' && location && res.status >= 300 && res.status < 400) {
      // a pre-authenticated URL on another host: it must not receive the bearer token
      res = await this.transport.send({ method: 'GET', url: new URL(location, url).href }, options.signal ?? undefined);
    }
    context.response = new BufferedResponse(res.status, res.headers, res.body) as unknown as Response;
  }
}

/** Collects a response body, straight into one buffer when its length is announced (no second copy). */
class BodyCollector {
  private whole: Buffer | undefined;
  private readonly parts: Buffer[] = [];
  private size = 0;

  constructor(announced: number) {
    this.whole = Number.isInteger(announced) && announced > 0 ? Buffer.allocUnsafe(announced) : undefined;
  }

  add(d: Buffer): void {
    if (this.whole && this.size + d.length <= this.whole.length) {
      d.copy(this.whole, this.size);
    } else {
      if (this.whole) this.parts.push(this.whole.subarray(0, this.size)); // more than announced: collect parts
      this.whole = undefined;
      this.parts.push(d);
    }
    this.size += d.length;
  }

  bytes(): Buffer {
    return this.whole ? this.whole.subarray(0, this.size) : Buffer.concat(this.parts);
  }
}

function trustedCas(caFile: string): string[] {
  let extra: string;
  try {
    extra = readFileSync(caFile, 'utf8');
  } catch (e) {
    throw new DbkError('CONFIG', `cannot read odb_ca_file ${caFile}: ${(e as Error).message}`, { cause: e });
  }
  // an explicit `ca` replaces Node's default list, so keep the public roots and NODE_EXTRA_CA_CERTS
  const cas = [...rootCertificates, extra];
  const envExtra = process.env.NODE_EXTRA_CA_CERTS;
  if (envExtra) {
    try {
      cas.push(readFileSync(envExtra, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; do the same by ignoring it
    }
  }
  return cas;
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
  }
  return h;
}

function headerRecord(h: ConstructorParameters<typeof Headers>[0]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of new Headers(h)) out[k] = v;
  return out;
}

function bodyBuffer(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new DbkError('PERMANENT', `unsupported request body type ${Object.prototype.toString.call(body)}`);
}
