// Sign-in for odb:// storages with the OAuth device-code flow: the user opens a web page on any
// device and types a short code; meanwhile this polls the token endpoint and, once signed in,
// writes the token file that odb_token names. Prints nothing: the caller shows the code.

import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';
import type { Settings } from '../../src/settings.js';
import { sleep } from '../throttle.js';
import { odbEndpoints, SCOPE, USER_AGENT } from './config.js';
import { HttpsTransport } from './https-transport.js';
import { deviceCodeEndpoint, OAuthError, postForm, tokenEndpoint, tokenSetFrom } from './oauth.js';
import { writeTokenFile } from './token-file.js';

export interface UserCodePrompt {
  userCode: string;
  verificationUri: string;
  /** the service's own instruction, e.g. "To sign in, use a web browser to open …" */
  message: string;
  expiresInSec: number;
}

export interface OdbLoginOptions {
  /** the storage's settings: odb_auth_url, odb_client_id, odb_ca_file */
  settings: Settings;
  /** where to write the tokens (absolute, or relative to repoDir) */
  tokenFile: string;
  repoDir?: string;
  onUserCode: (prompt: UserCodePrompt) => void;
  signal?: AbortSignal;
}

export interface OdbLoginResult {
  tokenFile: string;
  /** when the access token runs out (it is refreshed automatically) */
  expiry: string;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export async function odbLogin(o: OdbLoginOptions): Promise<OdbLoginResult> {
  const repoDir = o.repoDir ?? process.cwd();
  const endpoints = odbEndpoints(o.settings, repoDir);
  const tokenFile = path.resolve(repoDir, o.tokenFile);
  const transport = new HttpsTransport({ caFile: endpoints.caFile, maxSockets: 2, userAgent: USER_AGENT });
  try {
    const code = await postForm(transport, deviceCodeEndpoint(endpoints.authUrl), { client_id: endpoints.clientId, scope: SCOPE }, o.signal);
    const deviceCode = String(code.device_code ?? '');
    if (!deviceCode) throw new DbkError('PERMANENT', 'the sign-in service returned no device code');
    const expiresInSec = Number(code.expires_in) || 900;
    o.onUserCode({
      userCode: String(code.user_code ?? ''),
      verificationUri: String(code.verification_uri ?? code.verification_url ?? ''),
      message: String(code.message ?? ''),
      expiresInSec,
    });
    let intervalSec = Number(code.interval) || 5;
    const deadline = Date.now() + expiresInSec * 1000;
    while (Date.now() < deadline) {
      await sleep(intervalSec * 1000, o.signal);
      try {
        const body = await postForm(transport, tokenEndpoint(endpoints.authUrl), { client_id: endpoints.clientId, grant_type: DEVICE_GRANT, device_code: deviceCode }, o.signal);
        const tokens = tokenSetFrom(body);
        await writeTokenFile(tokenFile, tokens);
        return { tokenFile, expiry: tokens.expiry };
      } catch (e) {
        if (e instanceof OAuthError && e.error === 'authorization_pending') continue;
        if (e instanceof OAuthError && e.error === 'slow_down') intervalSec += 5;
        else if (e instanceof DbkError && e.temporary) continue;
        else throw loginError(e);
      }
    }
    throw new DbkError('PERMANENT', 'the sign-in code expired before sign-in finished', { hint: 'run `dbk odb-login` again' });
  } catch (e) {
    throw e instanceof OAuthError ? loginError(e) : e;
  } finally {
    transport.close();
  }
}

function loginError(e: unknown): unknown {
  if (!(e instanceof OAuthError)) return e;
  const why =
    e.error === 'authorization_declined'
      ? 'sign-in was declined'
      : e.error === 'expired_token' || e.error === 'code_expired'
        ? 'the sign-in code expired before sign-in finished'
        : `sign-in failed (${e.message})`;
  return new DbkError('PERMANENT', why, { cause: e, hint: 'run `dbk odb-login` again; with a personal account or a tenant that blocks the default app, set odb_client_id to an app of your own' });
}
