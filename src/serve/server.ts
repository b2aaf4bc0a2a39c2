// `dbk serve`: one HTTP(S) server for the web console (the page, /api/) and read-only WebDAV
// (/dav/) of every revision, over the storages of one repository folder.
//
// Every request passes, in order: the Host check (loopback servers answer loopback names only),
// the token visit that sets the cookie, authentication (401 otherwise), then its route. Listening
// beyond loopback needs TLS, or `insecure` said out loud.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DbkError, usage } from '../errors.js';
import type { OpenOptions } from '../storage/repository.js';
import { Access, isLoopbackHost } from './access.js';
import { Api } from './api.js';
import { DAV_PREFIX, handleDav } from './dav.js';
import { DEFAULT_LISTEN } from './defaults.js';
import { HttpError, sendError } from './http.js';
import { Jobs } from './jobs.js';
import { serveConsoleFile } from './static-files.js';
import { ServedStorages } from './storages.js';

export interface ServeOptions extends Pick<OpenOptions, 'repoDir' | 'log' | 'askPassword' | 'threads'> {
  /** host:port; 127.0.0.1:8421 by default (port 0: any free port) */
  listen?: string;
  /** serve only this storage (default: every storage of the repository folder) */
  storage?: string;
  /** no jobs: browse, download and WebDAV only */
  readOnly?: boolean;
  /** PEM files: serve HTTPS */
  tlsCert?: string;
  tlsKey?: string;
  /** listen beyond loopback without TLS */
  insecure?: boolean;
  version?: string;
}

export interface RunningServer {
  /** the URL to open, with the token */
  url: string;
  /** the same without the token: for WebDAV clients, which send the token as a password */
  baseUrl: string;
  token: string;
  close(): Promise<void>;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const { host, port } = parseListen(o.listen ?? DEFAULT_LISTEN);
  const loopback = isLoopbackHost(host);
  const tls = o.tlsCert && o.tlsKey ? { cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) } : undefined;
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw usage('-tls-cert and -tls-key go together');
  if (!loopback && !tls && !o.insecure) throw usage(`${host} is not a loopback address: give -tls-cert and -tls-key, or say -insecure to send the token unencrypted`);
  const storages = await ServedStorages.open(o);
  const access = new Access(loopback);
  const jobs = new Jobs(storages, o.log);
  const api = new Api(storages, jobs, access, o.version ?? '');
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    route(req, res, { access, api, storages, readOnly: o.readOnly ?? false, secure: tls !== undefined }).catch((e) => sendError(res, e));
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  } catch (e) {
    await storages.close();
    throw new DbkError('USAGE', `cannot listen on ${host}:${port}: ${(e as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const baseUrl = `${tls ? 'https' : 'http'}://${shown}:${address.port}/`;
  return {
    url: `${baseUrl}?token=${access.token}`,
    baseUrl,
    token: access.token,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await jobs.cancelAll();
      await closed;
      await storages.close();
    },
  };
}

interface Routes {
  access: Access;
  api: Api;
  storages: ServedStorages;
  readOnly: boolean;
  secure: boolean;
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, r: Routes): Promise<void> {
  securityHeaders(res);
  if (!r.access.hostAllowed(req)) throw new HttpError(403, 'this server answers requests to its loopback address only');
  // the URL parser would resolve '..' and '%2e%2e' quietly, and read a backslash as a slash: a path
  // that has them is refused as sent (a name's backslash comes percent-encoded)
  const raw = (req.url ?? '/').split('?')[0]!;
  if (raw.includes('\\') || raw.split('/').some((part) => /^(\.|%2e){1,2}$/i.test(part))) throw new HttpError(400, 'a path with ., .. or a backslash in it');
  const url = new URL(req.url ?? '/', 'http://server');
  if (url.pathname === '/' && url.searchParams.has('token') && r.access.acceptTokenVisit(url, res, r.secure)) return;
  if (!r.access.authenticated(req)) {
    // the Basic challenge for WebDAV clients only: a console tab whose cookie went stale gets no login box
    const challenge = isDav(url) ? { 'www-authenticate': 'Basic realm="dbk", charset="UTF-8"' } : {};
    res.writeHead(401, { ...challenge, 'content-type': 'text/plain; charset=utf-8' });
    res.end('open the URL `dbk serve` printed (it holds the token), or send the token as a Bearer token or Basic password\n');
    return;
  }
  if (isDav(url)) return handleDav(req, res, url, r.storages);
  if (url.pathname.startsWith('/api/')) {
    if (r.readOnly && req.method === 'POST') throw new HttpError(403, 'this server is read-only (-read-only): it runs no jobs');
    return r.api.handle(req, res, url);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed here`);
  return serveConsoleFile(res, url.pathname);
}

const isDav = (url: URL) => url.pathname === DAV_PREFIX || url.pathname.startsWith(`${DAV_PREFIX}/`);

function securityHeaders(res: http.ServerResponse): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'");
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw usage(`-listen takes host:port, e.g. ${DEFAULT_LISTEN}, not ${JSON.stringify(listen)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
