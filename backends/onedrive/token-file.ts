// The token file named by odb_token, and the access token that comes from it.
//
// Refresh tokens rotate on every use, and several dbk processes may share one token file. So
// before refreshing, the file is read again (another process may already have refreshed: then its
// tokens are used as they are), and the new tokens are written atomically (temporary file, then
// rename), never leaving a torn file. Within a process, refreshes are single-flight: sixteen
// workers that all get 401 at once cause one refresh.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';
import type { OdbEndpoints } from './config.js';
import { SCOPE } from './config.js';
import type { HttpsTransport } from './https-transport.js';
import { OAuthError, postForm, type TokenSet, tokenEndpoint, tokenSetFrom } from './oauth.js';

/** Refresh this long before the recorded expiry, so a token does not run out in flight. */
const EXPIRY_MARGIN_MS = 120_000;

const signInAgain = 'run `dbk odb-login` to sign in again';

export async function readTokenFile(file: string): Promise<TokenSet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DbkError('CONFIG', `cannot read the OneDrive token file ${file}: ${(e as Error).message}`, { cause: e, hint: signInAgain });
  }
  let t: Partial<TokenSet>;
  try {
    t = JSON.parse(text) as Partial<TokenSet>;
  } catch {
    throw new DbkError('CONFIG', `the OneDrive token file ${file} is not JSON`, { hint: signInAgain });
  }
  if (typeof t.access_token !== 'string' || typeof t.refresh_token !== 'string') {
    throw new DbkError('CONFIG', `the OneDrive token file ${file} holds no access_token and refresh_token`, { hint: signInAgain });
  }
  return { access_token: t.access_token, refresh_token: t.refresh_token, token_type: t.token_type ?? 'Bearer', expiry: t.expiry ?? new Date(0).toISOString() };
}

/** Replaces the token file in one step; it is readable by its owner only. */
export async function writeTokenFile(file: string, tokens: TokenSet): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(tokens, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DbkError('PERMANENT', `cannot write the OneDrive token file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

const fresh = (t: TokenSet) => Date.parse(t.expiry) - EXPIRY_MARGIN_MS > Date.now();

export class TokenSource {
  private current: TokenSet | undefined;
  private refreshing: Promise<void> | undefined;
  /** refreshes done by this process, for tests and logs */
  refreshes = 0;

  constructor(
    private readonly file: string,
    private readonly endpoints: OdbEndpoints,
    private readonly transport: HttpsTransport,
  ) {}

  async accessToken(): Promise<string> {
    this.current ??= await readTokenFile(this.file);
    if (!fresh(this.current)) await this.refresh(this.current.access_token);
    return this.current.access_token;
  }

  /** Called when `rejected` was refused (401) or has run out; a no-op if the token changed meanwhile. */
  async refresh(rejected: string): Promise<void> {
    if (this.current && this.current.access_token !== rejected) return;
    this.refreshing ??= this.refreshNow(rejected).finally(() => (this.refreshing = undefined));
    await this.refreshing;
  }

  private async refreshNow(rejected: string): Promise<void> {
    const onDisk = await readTokenFile(this.file);
    if (onDisk.access_token !== rejected && fresh(onDisk)) {
      this.current = onDisk; // another process refreshed already
      return;
    }
    try {
      this.current = await this.redeem(onDisk.refresh_token);
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      if (e.error !== 'invalid_grant') throw new DbkError('PERMANENT', `OneDrive sign-in refused the refresh: ${e.message}`, { hint: signInAgain, cause: e });
      // another process may have used the same refresh token a moment ago and saved the new one
      const again = await readTokenFile(this.file);
      if (again.refresh_token === onDisk.refresh_token) {
        throw new DbkError('PERMANENT', `OneDrive sign-in has expired or was revoked (${e.message})`, { hint: signInAgain, cause: e });
      }
      this.current = fresh(again) ? again : await this.redeem(again.refresh_token);
    }
    this.refreshes++;
  }

  private async redeem(refreshToken: string): Promise<TokenSet> {
    const body = await postForm(this.transport, tokenEndpoint(this.endpoints.authUrl), {
      client_id: this.endpoints.clientId,
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      scope: SCOPE,
    });
    const tokens = tokenSetFrom(body, refreshToken);
    await writeTokenFile(this.file, tokens);
    return tokens;
  }
}
