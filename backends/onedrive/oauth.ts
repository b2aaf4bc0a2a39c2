// The identity platform's v2.0 endpoints as a public client (no secret): form POSTs to
// {authority}/oauth2/v2.0/devicecode and /token, and the token set dbk keeps in its token file.

import { DbkError } from '../../src/errors.js';
import type { HttpsTransport } from './https-transport.js';

/** The token file's content: the field names of Go's oauth2.Token, which peers' token files use too. */
export interface TokenSet {
  access_token: string;
  refresh_token: string;
  token_type: string;
  /** ISO time the access token stops working */
  expiry: string;
}

/** A refusal by the token endpoint: {"error": "...", "error_description": "..."}. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly error: string,
    description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

export const tokenEndpoint = (authUrl: string) => `${authUrl}/oauth2/v2.0/token`;
export const deviceCodeEndpoint = (authUrl: string) => `${authUrl}/oauth2/v2.0/devicecode`;

/** POSTs a form; resolves the JSON answer, rejects with OAuthError (4xx) or a TRANSIENT DbkError. */
export async function postForm(transport: HttpsTransport, url: string, fields: Record<string, string>, signal?: AbortSignal): Promise<Record<string, unknown>> {
  let res: Awaited<ReturnType<HttpsTransport['send']>>;
  try {
    res = await transport.send(
      {
        method: 'POST',
        url,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: Buffer.from(new URLSearchParams(fields).toString()),
      },
      signal,
    );
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new DbkError('TRANSIENT', `sign-in service unreachable: ${(e as Error).message}`, { cause: e });
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    // an HTML error page from a proxy: judged by status below
  }
  if (res.status >= 200 && res.status < 300) return body;
  if (res.status >= 400 && res.status < 500 && typeof body.error === 'string') {
    throw new OAuthError(body.error, String(body.error_description ?? '').split('\r\n')[0] ?? '');
  }
  const temporary = res.status === 429 || res.status >= 500;
  throw new DbkError(temporary ? 'TRANSIENT' : 'PERMANENT', `sign-in service answered HTTP ${res.status}`);
}

/** The token set from a token response; a response without a new refresh token keeps the old one. */
export function tokenSetFrom(body: Record<string, unknown>, previousRefreshToken?: string): TokenSet {
  const access = body.access_token;
  const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : previousRefreshToken;
  if (typeof access !== 'string' || !refresh) {
    throw new DbkError('PERMANENT', 'the sign-in service returned no access and refresh token', {
      hint: 'the scope must include offline_access; run `dbk odb-login` again',
    });
  }
  const lifetime = Number(body.expires_in);
  return {
    access_token: access,
    refresh_token: refresh,
    token_type: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
    expiry: new Date(Date.now() + (Number.isFinite(lifetime) ? lifetime : 3600) * 1000).toISOString(),
  };
}
