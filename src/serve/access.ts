// Who may talk to `dbk serve`, and which requests are allowed to change anything.
//
// - One random token per server, printed once in the URL (as Jupyter does). Its first use on `/`
//   turns it into an HttpOnly, SameSite=Strict cookie and redirects to a URL without it; WebDAV
//   clients send it as `Authorization: Bearer` or as the password of Basic auth.
// - A server on loopback answers only requests that name a loopback host: a web page elsewhere
//   cannot reach it through DNS rebinding.
// - Every request that changes something is a POST carrying the CSRF value (derived from the
//   token, handed to the page by /api/session) in a header, from the server's own origin.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CSRF_HEADER = 'x-dbk-csrf';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export const isLoopbackHost = (host: string) => LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);

export class Access {
  // hex: nothing a shell or a command line option could take for something else (a leading '-')
  readonly token = randomBytes(20).toString('hex');
  readonly csrf = createHmac('sha256', this.token).update('csrf').digest('base64url');
  /**
   * A cookie name of this server's own: browsers keep cookies per host, not per port, so two
   * servers (or one restarted) on 127.0.0.1 must not overwrite each other's.
   */
  readonly cookie = `dbk_${createHmac('sha256', this.token).update('cookie').digest('hex').slice(0, 12)}`;

  constructor(
    /** the server listens on loopback only: the Host header must name it */
    private readonly loopbackOnly: boolean,
  ) {}

  /** The Host header names this server (DNS rebinding): any host when it listens beyond loopback. */
  hostAllowed(req: IncomingMessage): boolean {
    if (!this.loopbackOnly) return true;
    const host = req.headers.host;
    if (!host) return false;
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    return isLoopbackHost(name);
  }

  /** The token in this server's cookie, a Bearer header or a Basic password: any one that matches will do. */
  authenticated(req: IncomingMessage): boolean {
    return [cookieValue(req, this.cookie), headerToken(req)].some((given) => given !== undefined && sameSecret(given, this.token));
  }

  /** A first visit with ?token=: sets the cookie and sends the browser on to the page without the token in its URL. */
  acceptTokenVisit(url: URL, res: ServerResponse, secure: boolean): boolean {
    const given = url.searchParams.get('token');
    if (given === null || !sameSecret(given, this.token)) return false;
    const cookie = `${this.cookie}=${this.token}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
    res.writeHead(303, { 'set-cookie': cookie, location: '/', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
    return true;
  }

  /** A state-changing request: the CSRF header, and no foreign origin or cross-site fetch. */
  csrfAllowed(req: IncomingMessage): boolean {
    const csrf = req.headers[CSRF_HEADER];
    if (typeof csrf !== 'string' || !sameSecret(csrf, this.csrf)) return false;
    if (req.headers['sec-fetch-site'] === 'cross-site') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
}

function cookieValue(req: IncomingMessage, cookie: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookie) return value.join('=');
  }
  return undefined;
}

function headerToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (!auth) return undefined;
  const [scheme, value = ''] = auth.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}
