// The emulator's identity side: the device-code and refresh-token grants of the Microsoft
// identity platform's v2.0 token endpoint, and bearer-token checks for Graph requests.
// In 'any' mode (the standalone default) every bearer token and refresh token is accepted; in
// 'issued' mode only unexpired tokens this emulator issued are, and refresh tokens rotate: each one
// works once, as a client that forgets to save the new one would find out on the real service.

import { randomBytes } from 'node:crypto';
import type { ApiResponse } from './wire.js';

export interface AuthKnobs {
  auth: 'any' | 'issued';
  /** lifetime of issued access tokens, seconds */
  tokenLifetimeSec: number;
  /** polling interval the device-code endpoint asks for, seconds (the real service says 5) */
  deviceCodeInterval: number;
  /** token polls answered authorization_pending before the "user" approves */
  deviceCodeApproveAfterPolls: number;
}

/** 'readOnly': a valid token whose scope grants no writes (Files.Read): changes get 403. */
export type TokenCheck = 'ok' | 'readOnly' | 'missing' | 'invalid' | 'expired';

interface DeviceCode {
  userCode: string;
  polls: number;
  expiresAt: number;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export class AuthServer {
  private readonly accessTokens = new Map<string, { expiresAt: number; readOnly: boolean }>();
  private readonly refreshTokens = new Set<string>();
  private readonly deviceCodes = new Map<string, DeviceCode>();

  constructor(
    private readonly knobs: AuthKnobs,
    private readonly baseUrl: () => string,
  ) {}

  /** Issues a token pair directly (for tests that write a token file without the device flow); 'Files.Read' makes it read-only. */
  issue(scope = 'Files.ReadWrite offline_access'): Record<string, string | number> {
    const access = `emu-at-${randomBytes(16).toString('hex')}`;
    const refresh = `emu-rt-${randomBytes(16).toString('hex')}`;
    const readOnly = !/ReadWrite/i.test(scope);
    this.accessTokens.set(access, { expiresAt: Date.now() + this.knobs.tokenLifetimeSec * 1000, readOnly });
    this.refreshTokens.add(refresh);
    return {
      token_type: 'Bearer',
      scope,
      expires_in: this.knobs.tokenLifetimeSec,
      ext_expires_in: this.knobs.tokenLifetimeSec,
      access_token: access,
      refresh_token: refresh,
    };
  }

  /** Makes every access token issued so far expire now (the next Graph call with one gets 401). */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0;
  }

  /** Makes every refresh token issued so far invalid (as when the user revokes the app's sessions). */
  revokeRefreshTokens(): void {
    this.refreshTokens.clear();
  }

  check(authorization: string | undefined): TokenCheck {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) return 'missing';
    const issued = this.accessTokens.get(m[1]);
    if (this.knobs.auth === 'any') return issued?.readOnly ? 'readOnly' : 'ok';
    if (issued === undefined) return 'invalid';
    if (Date.now() >= issued.expiresAt) return 'expired';
    return issued.readOnly ? 'readOnly' : 'ok';
  }

  deviceCode(form: URLSearchParams): ApiResponse {
    if (!form.get('client_id')) return oauthError('invalid_request', "The request body must contain the following parameter: 'client_id'.");
    const deviceCode = randomBytes(24).toString('base64url');
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    this.deviceCodes.set(deviceCode, { userCode, polls: 0, expiresAt: Date.now() + 900_000 });
    const verificationUri = `${this.baseUrl()}/devicelogin`;
    return {
      status: 200,
      json: {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: verificationUri,
        expires_in: 900,
        interval: this.knobs.deviceCodeInterval,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
      },
    };
  }

  token(form: URLSearchParams): ApiResponse {
    if (!form.get('client_id')) return oauthError('invalid_request', "The request body must contain the following parameter: 'client_id'.");
    const grant = form.get('grant_type');
    if (grant === 'refresh_token') return this.refreshGrant(form.get('refresh_token') ?? '', form.get('scope') ?? undefined);
    if (grant === DEVICE_GRANT) return this.deviceGrant(form.get('device_code') ?? '');
    return oauthError('unsupported_grant_type', `The grant type '${grant}' is not supported.`);
  }

  private refreshGrant(refreshToken: string, scope: string | undefined): ApiResponse {
    if (refreshToken === '') return oauthError('invalid_request', "The request body must contain the following parameter: 'refresh_token'.");
    if (this.knobs.auth === 'issued' && !this.refreshTokens.delete(refreshToken)) {
      return oauthError('invalid_grant', 'The refresh token has expired or was already used.');
    }
    return { status: 200, json: this.issue(scope) };
  }

  private deviceGrant(deviceCode: string): ApiResponse {
    const pending = this.deviceCodes.get(deviceCode);
    if (!pending) return oauthError('invalid_grant', 'The provided value for the device_code is not valid.');
    if (Date.now() > pending.expiresAt) return oauthError('expired_token', 'The device code has expired.');
    if (++pending.polls <= this.knobs.deviceCodeApproveAfterPolls) {
      return oauthError('authorization_pending', 'The user has not yet completed authentication.');
    }
    this.deviceCodes.delete(deviceCode);
    return { status: 200, json: this.issue() };
  }
}

function oauthError(error: string, description: string): ApiResponse {
  return {
    status: 400,
    json: { error, error_description: description, error_codes: [], timestamp: new Date().toISOString() },
  };
}
