// Every request of an odb:// storage goes through here: Graph calls through the SDK with the
// bearer token, and calls to pre-authenticated URLs without it. One policy for all of them:
//   - wait at the throttle gate; a 429/503 with Retry-After closes it for the whole pool;
//   - 429/503 without Retry-After, 5xx and broken connections: this request backs off and retries;
//   - 401: refresh the token once (single-flight, see token-file.ts) and retry;
//   - anything else, or too many tries: a DbkError (NOT_FOUND, ALREADY_EXISTS, TRANSIENT, PERMANENT).

import { isAscii } from 'node:buffer';
import { Client, GraphError, type GraphRequest, ResponseType } from '@microsoft/microsoft-graph-client';
import { alreadyExists, DbkError, notFound } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { backoffMs, parseRetryAfter, sleep, ThrottleGate } from '../throttle.js';
import { type OdbConfig, USER_AGENT } from './config.js';
import { BufferedResponse, type HttpRequest, type HttpResponse, HttpsTransport, NetworkError, TransportMiddleware } from './https-transport.js';
import { TokenSource } from './token-file.js';

/** tries for one request while throttled (each waits as long as the service asks) */
const MAX_THROTTLED = 20;
/** tries for one request after 5xx or broken connections (the retry wrapper above adds more) */
const MAX_TRANSIENT = 5;

/** Why one try failed. status -1: no answer (connection refused, reset, timed out). */
export interface Failure {
  status: number;
  code?: string;
  message: string;
  retryAfterMs?: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure; token?: string };

/** Filled in by a call: whether some try got no answer, so the service may have carried it out. */
export interface CallTrace {
  unanswered?: boolean;
}

export interface BatchRequest {
  id: string;
  /** GET unless said */
  method?: string;
  /** relative to the version root */
  url: string;
  /** JSON */
  body?: unknown;
}

export interface BatchPart {
  id: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export class GraphCaller {
  readonly gate = new ThrottleGate();
  readonly transport: HttpsTransport;
  readonly tokens: TokenSource;
  private readonly client: Client;
  /** tries refused with 429/503, for logs and tests */
  throttled = 0;

  constructor(
    config: OdbConfig,
    threads: number,
    private readonly log: Logger,
  ) {
    this.transport = new HttpsTransport({ caFile: config.caFile, maxSockets: Math.max(8, threads * 2), userAgent: USER_AGENT });
    this.tokens = new TokenSource(config.tokenFile, config, this.transport);
    this.client = Client.initWithMiddleware({
      middleware: new TransportMiddleware(this.transport),
      baseUrl: config.graphUrl,
      defaultVersion: 'v1.0',
      customHosts: new Set([new URL(config.graphUrl).host]),
    });
  }

  /** A Graph call: `path` relative to the version root (or an absolute nextLink); `run` sends it. */
  api<T>(what: string, path: string, run: (req: GraphRequest) => Promise<T>, signal?: AbortSignal, trace?: CallTrace): Promise<T> {
    return this.retrying(what, signal, trace, async () => {
      const token = await this.tokens.accessToken();
      const req = this.client.api(path).header('Authorization', `Bearer ${token}`);
      if (signal) req.option('signal', signal);
      try {
        return { ok: true, value: await run(req) };
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        return { ok: false, failure: failureOf(e), token };
      }
    });
  }

  /**
   * A request to a pre-authenticated URL (upload session, download location): never with the token.
   * Throttling, 5xx and broken connections are retried here; other statuses go back to the caller.
   */
  plain(what: string, req: HttpRequest, signal?: AbortSignal, trace?: CallTrace): Promise<HttpResponse> {
    return this.retrying(what, signal, trace, async () => {
      try {
        const res = await this.transport.send(req, signal);
        if (!retryable(res.status)) return { ok: true, value: res };
        return { ok: false, failure: { status: res.status, message: `HTTP ${res.status}`, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) } };
      } catch (e) {
        if (signal?.aborted) throw e;
        return { ok: false, failure: failureOf(e) };
      }
    });
  }

  /** GET of a JSON resource, parsed straight from the received bytes (for large listing pages). */
  getJson(what: string, path: string, signal?: AbortSignal): Promise<unknown> {
    return this.api(what, path, async (req) => parseRaw(await req.responseType(ResponseType.RAW).get()), signal);
  }

  /** POST /$batch with requests built by hand (the SDK's batch helper builds URLs the service rejects). */
  async batch(what: string, requests: BatchRequest[], signal?: AbortSignal, trace?: CallTrace): Promise<BatchPart[]> {
    const body = {
      requests: requests.map((r) =>
        r.body === undefined ? { id: r.id, method: r.method ?? 'GET', url: r.url } : { id: r.id, method: r.method, url: r.url, body: r.body, headers: { 'Content-Type': 'application/json' } },
      ),
    };
    const run = async (req: GraphRequest) => parseRaw(await req.responseType(ResponseType.RAW).post(body));
    const answer = (await this.api(what, '/$batch', run, signal, trace)) as { responses?: unknown };
    if (!Array.isArray(answer?.responses)) throw new DbkError('TRANSIENT', `${what}: malformed $batch answer`);
    return (answer.responses as Record<string, unknown>[]).map((r) => ({
      id: String(r.id),
      status: Number(r.status),
      headers: lowerKeys(r.headers),
      body: r.body,
    }));
  }

  /** The policy loop shared by api() and plain(), as described at the top. */
  private async retrying<T>(what: string, signal: AbortSignal | undefined, trace: CallTrace | undefined, attempt: () => Promise<Outcome<T>>): Promise<T> {
    let refreshed = false;
    let throttledTries = 0;
    let transientTries = 0;
    for (;;) {
      await this.gate.ready(signal);
      const outcome = await attempt();
      if (outcome.ok) return outcome.value;
      const f = outcome.failure;
      if (f.status === -1 && trace) trace.unanswered = true;
      if (f.status === 401 && outcome.token !== undefined && !refreshed) {
        refreshed = true;
        this.log.debug(`${what}: access token refused, refreshing`);
        await this.tokens.refresh(outcome.token);
        continue;
      }
      if ((f.status === 429 || f.status === 503) && ++throttledTries < MAX_THROTTLED) {
        this.throttled++;
        this.waitThrottled(what, f, throttledTries);
        if (f.retryAfterMs === undefined) await sleep(backoffMs(throttledTries), signal);
        continue;
      }
      if (retryable(f.status) && ++transientTries < MAX_TRANSIENT) {
        this.log.debug(`${what}: ${f.message}; retry ${transientTries}`);
        await sleep(backoffMs(transientTries), signal);
        continue;
      }
      throw dbkErrorOf(f, what);
    }
  }

  /** Retry-After pauses every request of this storage; without it only this request waits. */
  waitThrottled(what: string, f: Failure, tries: number): void {
    if (f.retryAfterMs !== undefined) this.gate.pause(f.retryAfterMs);
    this.log.debug(`${what}: throttled (HTTP ${f.status}), ${f.retryAfterMs === undefined ? `backing off, try ${tries}` : `all requests wait ${f.retryAfterMs} ms`}`);
  }

  close(): void {
    this.transport.close();
  }
}

/** Statuses a later try may cure: none at all, timeouts, locks, throttling, server trouble (not 501, 507). */
const retryable = (status: number) => status === -1 || status === 408 || status === 423 || status === 429 || (status >= 500 && status !== 501 && status !== 507);

export function failureOf(e: unknown): Failure {
  if (e instanceof GraphError) {
    const status = e.statusCode > 0 ? e.statusCode : -1;
    return { status, code: e.code ?? undefined, message: e.message || `HTTP ${status}`, retryAfterMs: parseRetryAfter(e.headers?.get('retry-after')) };
  }
  if (e instanceof NetworkError) return { status: -1, message: e.message };
  return { status: -1, message: (e as Error)?.message ?? String(e) };
}

/** The JSON of a RAW response; a refusal becomes the GraphError the SDK would have thrown. */
function parseRaw(res: unknown): unknown {
  if (!(res instanceof BufferedResponse)) throw new GraphError(-1, 'unexpected response object');
  const bytes = res.bytes;
  let body: { error?: { code?: string; message?: string } } | undefined;
  try {
    body = bytes.length > 0 ? (JSON.parse(jsonText(bytes)) as typeof body) : undefined;
  } catch {
    if (res.ok) throw new GraphError(-1, 'the answer is not JSON');
  }
  if (res.ok) return body;
  const e = new GraphError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  e.code = body?.error?.code ?? null;
  e.headers = res.headers;
  throw e;
}

/**
 * The text of a JSON body. Listing pages are megabytes of ASCII (chunk names, numbers, syntax):
 * checking that and copying the bytes as Latin-1 takes 0.6–0.7× the time of UTF-8 decoding (86 MB of
 * pages for a million entries); anything else is decoded as UTF-8.
 */
function jsonText(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** A batch part's failure, with the Retry-After from its own headers. */
export function partFailure(part: BatchPart): Failure {
  const error = (part.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return { status: part.status, code: error?.code, message: error?.message ?? `HTTP ${part.status}`, retryAfterMs: parseRetryAfter(part.headers['retry-after']) };
}

/** `what` is a one-word operation and the storage path, e.g. "read chunks/ab/cd…". */
export function dbkErrorOf(f: Failure, what: string): DbkError {
  const path = what.slice(what.indexOf(' ') + 1);
  const detail = `${what}: ${f.status === -1 ? '' : `HTTP ${f.status} `}${f.code ? `${f.code}: ` : ''}${f.message}`;
  switch (f.status) {
    case 404:
      return notFound(path);
    case 409:
      return alreadyExists(path);
    case 401:
      return new DbkError('PERMANENT', `OneDrive refused the access token (${detail})`, { hint: 'run `dbk odb-login` to sign in again' });
    case 403:
      return new DbkError('PERMANENT', `OneDrive denied access (${detail})`, { hint: 'check that the signed-in account may write to this folder' });
    case 507:
      return new DbkError('PERMANENT', `the OneDrive is full (quota exceeded): ${what} was not stored`, {
        hint: 'free space on the OneDrive or add storage, then run the command again; nothing was half-written',
      });
  }
  return new DbkError(retryable(f.status) ? 'TRANSIENT' : 'PERMANENT', detail);
}

function lowerKeys(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h && typeof h === 'object') for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = String(v);
  return out;
}
