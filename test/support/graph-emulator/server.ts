// The Microsoft Graph emulator: an HTTPS server on 127.0.0.1 that keeps a OneDrive in memory and
// speaks the subset of Graph that dbk uses (reference: onedrive-graph.md), plus the identity
// platform's token endpoints. Tests start it in-process; `npm run graph-emulator` runs it alone.
//
//   /v1.0/…                  Graph: drive, items by path and id, children, content, sessions, $batch
//   /_upload/{session}       upload URLs (no bearer token allowed)
//   /_download/{item}        302 targets of content requests (no bearer token allowed)
//   /[tenant/]oauth2/v2.0/   devicecode and token endpoints
//   /_emulator/…             control for separate processes: counters, knobs, gc (never faulted)

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type AuthKnobs, AuthServer } from './auth.js';
import { handleBatch } from './batch.js';
import { type KeyPair, makeSelfSignedCertificate } from './cert.js';
import { Drive } from './drive.js';
import { type Counters, DEFAULT_FAULT_KNOBS, type FaultKnobs, Faults } from './faults.js';
import { type ApiKnobs, kindOf, parseTarget, Routes } from './routes.js';
import { Transfers } from './transfers.js';
import { type ApiRequest, type ApiResponse, graphError, json, jsonPartsOf, type RequestKind } from './wire.js';

export type EmulatorKnobs = FaultKnobs & AuthKnobs & ApiKnobs;

export interface EmulatorOptions extends Partial<EmulatorKnobs> {
  /** 0 (default) picks a free port */
  port?: number;
  driveId?: string;
}

const DEFAULT_KNOBS: EmulatorKnobs = {
  ...DEFAULT_FAULT_KNOBS,
  auth: 'any',
  tokenLifetimeSec: 3600,
  deviceCodeInterval: 1,
  deviceCodeApproveAfterPolls: 1,
  maxPageSize: 1000,
  quotaBytes: 5 * 2 ** 40,
};

const MAX_BODY = 100 * 2 ** 20;

/** Requests a read-only token may not make. */
const CHANGES = new Set<RequestKind>(['createFolder', 'upload', 'createSession', 'move', 'delete']);

/** How a request is served, decided from its method and path alone. */
interface Route {
  kind: RequestKind;
  /** a Graph call: bearer token required, subject to throttling */
  api: boolean;
  /** served by a pre-authenticated URL: a bearer token is refused */
  tokenless: boolean;
  serve: (req: ApiRequest) => ApiResponse;
}

export class GraphEmulator {
  readonly drive: Drive;
  readonly knobs: EmulatorKnobs;
  readonly faults: Faults;
  readonly auth: AuthServer;
  private readonly transfers: Transfers;
  private readonly routes: Routes;
  private port = 0;

  private constructor(
    private readonly server: Server,
    readonly keyPair: KeyPair,
    { driveId, ...knobs }: Omit<EmulatorOptions, 'port'>,
  ) {
    this.knobs = { ...DEFAULT_KNOBS, ...withoutUndefined(knobs) };
    this.drive = new Drive(driveId ?? 'e0d1e2f3a4b5c6d7');
    this.faults = new Faults(this.knobs);
    this.auth = new AuthServer(this.knobs, () => this.url);
    this.transfers = new Transfers(
      this.drive,
      () => this.url,
      () => this.knobs.quotaBytes,
    );
    this.routes = new Routes(this.drive, this.transfers, this.knobs, () => this.url);
  }

  static async start(options: EmulatorOptions = {}): Promise<GraphEmulator> {
    const keyPair = await makeSelfSignedCertificate();
    const server = createServer({ ...keyPair, keepAliveTimeout: 65_000 });
    const { port, ...rest } = options;
    const emulator = new GraphEmulator(server, keyPair, rest);
    server.on('request', (req, res) => {
      // a bug or a malformed control request answers 500 instead of ending the process
      emulator.onRequest(req, res).catch((e: unknown) => {
        if (res.headersSent) res.destroy();
        else send(res, graphError(500, 'generalException', (e as Error).message));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port ?? 0, '127.0.0.1', () => resolve());
    });
    emulator.port = (server.address() as AddressInfo).port;
    return emulator;
  }

  /** https://127.0.0.1:PORT: the Graph base URL (without /v1.0) and the authority alike */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** the certificate (PEM) clients must trust */
  get certificate(): string {
    return this.keyPair.cert;
  }

  get counters(): Counters {
    return this.faults.counters;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname.startsWith('/_emulator/')) {
      const body = await readBody(req);
      return send(res, body ? this.control(req.method ?? 'GET', url.pathname, body) : tooLarge());
    }
    const route = this.route(req.method ?? 'GET', url.pathname);
    this.faults.count(route.kind, false);
    const body = await readBody(req);
    if (body) this.faults.noteBody(route.kind, body.length);
    if (this.knobs.latencyMs > 0) await sleep(this.knobs.latencyMs);
    const fault = this.faults.decide(route.kind, route.api);
    if (fault && 'drop' in fault && fault.drop === 'before') return void req.socket.destroy();
    if (!body) return send(res, tooLarge());
    const apiReq: ApiRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: lowerHeaders(req), body };
    const response = fault && !('drop' in fault) ? faultResponse(fault) : (this.refuse(route, apiReq.headers.authorization) ?? route.serve(apiReq));
    if (fault && 'drop' in fault) return void req.socket.destroy(); // carried out, but the answer is lost
    send(res, response);
  }

  private route(method: string, pathname: string): Route {
    const graph = (kind: RequestKind, serve: Route['serve']): Route => ({ kind, api: true, tokenless: false, serve });
    const plain = (kind: RequestKind, tokenless: boolean, serve: Route['serve']): Route => ({ kind, api: false, tokenless, serve });
    if (pathname === '/v1.0/$batch' && method === 'POST') return graph('batch', (r) => handleBatch(r, (inner) => this.inner(inner)));
    if (pathname.startsWith('/v1.0/')) {
      const target = parseTarget(pathname.slice('/v1.0'.length));
      return graph(kindOf(method, target), (r) => this.routes.handle({ ...r, path: pathname.slice(5) }, target));
    }
    const upload = /^\/_upload\/([0-9a-f]+)$/.exec(pathname);
    if (upload) {
      const id = upload[1]!;
      if (method === 'PUT') return plain('uploadFragment', true, (r) => this.transfers.fragment(id, r.headers['content-range'], r.body));
      if (method === 'GET') return plain('uploadStatus', true, () => this.transfers.status(id));
      if (method === 'DELETE') return plain('cancelSession', true, () => this.transfers.cancel(id));
    }
    const download = /^\/_download\/([^/]+)$/.exec(pathname);
    if (download && method === 'GET') return plain('downloadContent', true, () => this.transfers.download(decodeURIComponent(download[1]!)));
    const oauth = /^(?:\/[^/]+)?\/oauth2\/v2\.0\/(token|devicecode)$/.exec(pathname);
    if (oauth && method === 'POST') {
      const form = (r: ApiRequest) => new URLSearchParams(r.body.toString('utf8'));
      return oauth[1] === 'token' ? plain('token', false, (r) => this.auth.token(form(r))) : plain('deviceCode', false, (r) => this.auth.deviceCode(form(r)));
    }
    return plain('other', false, () => graphError(404, 'notFound', `No such endpoint: ${method} ${pathname}`));
  }

  /** One request inside a $batch: counted, throttled and authorised on its own. */
  private inner(req: ApiRequest): ApiResponse {
    const path = req.path.replace(/^\/v1\.0(?=\/)/, '');
    const target = parseTarget(path);
    const kind = path === '/$batch' ? 'batch' : kindOf(req.method, target);
    this.faults.count(kind, true);
    this.faults.noteBody(kind, req.body.length);
    const fault = this.faults.decideInner(kind);
    if (fault && !('drop' in fault)) return faultResponse(fault);
    const refused = this.refuse({ api: true, tokenless: false, kind }, req.headers.authorization);
    if (refused) return refused;
    if (kind === 'batch') return graphError(400, 'invalidRequest', 'Batches cannot be nested.');
    return this.routes.handle({ ...req, path }, target);
  }

  /** The 401 a request earns by its token: missing or bad on Graph calls, present on pre-authenticated URLs. */
  private refuse(route: Pick<Route, 'api' | 'tokenless' | 'kind'>, authorization: string | undefined): ApiResponse | undefined {
    if (route.tokenless && authorization !== undefined) {
      this.faults.noteUnauthorized();
      return graphError(401, 'unauthenticated', 'Pre-authenticated URLs must be called without an Authorization header.');
    }
    if (!route.api) return undefined;
    const check = this.auth.check(authorization);
    if (check === 'ok' || (check === 'readOnly' && !CHANGES.has(route.kind))) return undefined;
    if (check === 'readOnly') return graphError(403, 'accessDenied', 'The caller does not have permission to perform the action.');
    this.faults.noteUnauthorized();
    const message = check === 'expired' ? 'Access token has expired or is not yet valid.' : 'Access token is empty or not valid.';
    return graphError(401, 'InvalidAuthenticationToken', message, { 'WWW-Authenticate': 'Bearer realm=""' });
  }

  /**
   * /_emulator/counters (GET), /_emulator/counters/reset (POST), /_emulator/knobs (GET, or POST a
   * partial object), /_emulator/gc (POST: a full garbage collection now, when node runs with
   * --expose-gc, so that a benchmark's timed runs do not share the CPU with one of a heap of a
   * million items).
   */
  private control(method: string, pathname: string, body: Buffer): ApiResponse {
    if (pathname === '/_emulator/gc' && method === 'POST') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) return graphError(501, 'notSupported', 'start the emulator with node --expose-gc');
      gc();
      return { status: 204 };
    }
    if (pathname === '/_emulator/counters' && method === 'GET') return json(200, this.counters);
    if (pathname === '/_emulator/counters/reset' && method === 'POST') {
      this.faults.resetCounters();
      return { status: 204 };
    }
    if (pathname === '/_emulator/knobs' && method === 'POST') {
      const changes = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      const unknown = Object.keys(changes).filter((k) => !(k in this.knobs));
      if (unknown.length > 0) return graphError(400, 'invalidRequest', `unknown knobs: ${unknown.join(', ')}`);
      Object.assign(this.knobs, changes);
    }
    if (pathname === '/_emulator/knobs') return json(200, this.knobs);
    return graphError(404, 'notFound', `No such control endpoint: ${method} ${pathname}`);
  }
}

function faultResponse(fault: { status: number; code?: string; retryAfter?: string }): ApiResponse {
  const headers = fault.retryAfter === undefined ? undefined : { 'Retry-After': fault.retryAfter };
  const code = fault.code ?? (fault.status === 429 ? 'activityLimitReached' : 'generalException');
  const res = graphError(fault.status, code, `Injected fault ${fault.status}.`, headers);
  if (fault.status === 429) (res.json as { error: { innerError: Record<string, string> } }).error.innerError.code = 'throttledRequest';
  return res;
}

const tooLarge = () => graphError(413, 'requestTooLarge', `The body exceeds ${MAX_BODY} bytes.`);

function send(res: ServerResponse, r: ApiResponse): void {
  const headers: Record<string, string> = { ...r.headers };
  let body = jsonPartsOf(r);
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  } else if (r.raw) {
    headers['Content-Type'] = 'application/octet-stream';
    body = [r.raw];
  }
  headers['Content-Length'] = String(body?.reduce((sum, part) => sum + part.length, 0) ?? 0);
  res.writeHead(r.status, headers);
  for (const part of body ?? []) res.write(part);
  res.end();
}

/** The whole request body, or undefined when it is larger than MAX_BODY. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts);
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
