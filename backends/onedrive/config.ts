// What an odb:// storage is configured with: the folder from the URL and the odb_* storage keys,
// read once through the settings lookup and checked, so the rest of the backend gets plain values.
//
//   odb_token                 token file (access token, refresh token, expiry); written by `dbk odb-login`
//   odb_graph_url             Graph base URL without the version (default https://graph.microsoft.com)
//   odb_auth_url              identity authority (default https://login.microsoftonline.com/common)
//   odb_client_id             application (client) id for sign-in and refresh (default DEFAULT_CLIENT_ID)
//   odb_drive_id              a drive other than the signed-in user's own (/me/drive)
//   odb_max_batch_requests    GETs packed into one $batch when listing: 1–20 or max (= 20); off by default
//   odb_simple_upload_limit   largest file sent in one PUT, bytes (default 4 MiB); larger ones use upload sessions
//   odb_ca_file               extra CA certificates (PEM) to trust, e.g. a TLS-inspecting proxy or the emulator

import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';
import type { Settings } from '../../src/settings.js';

/**
 * "Microsoft Graph Command Line Tools", Microsoft's own public client for Graph from a terminal: it
 * allows the device-code flow and asks for Files.ReadWrite on consent. It signs in work and school
 * accounts; personal Microsoft accounts and tenants that block it need an app registration of their
 * own (public client, device code allowed, delegated Files.ReadWrite), named with odb_client_id.
 */
export const DEFAULT_CLIENT_ID = '14d82eec-204b-4c2f-b7e8-296a70dab67e';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';
export const DEFAULT_AUTH_URL = 'https://login.microsoftonline.com/common';
export const SCOPE = 'Files.ReadWrite offline_access';
export const MAX_BATCH_REQUESTS = 20;
/** Microsoft asks for ISV|Company|App/version, which lets them tell callers apart when throttling. */
export const USER_AGENT = 'ISV|dbk|dbk/0.1';
const DEFAULT_SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024;

/** Endpoints and credentials: enough for sign-in, refresh and Graph calls. */
export interface OdbEndpoints {
  graphUrl: string;
  authUrl: string;
  clientId: string;
  /** PEM file of extra CAs to trust */
  caFile?: string;
}

export interface OdbConfig extends OdbEndpoints {
  /** folder below the drive root, '/'-separated, no leading or trailing '/' ('' = the drive root) */
  root: string;
  tokenFile: string;
  driveId?: string;
  /** 0 = no batching */
  maxBatchRequests: number;
  simpleUploadLimit: number;
}

/** odb://path and odb:///path both name the folder "path" below the drive root. */
export function odbRoot(url: string): string {
  const m = /^odb:\/\/(.*)$/i.exec(url);
  if (!m) throw new DbkError('USAGE', `not a OneDrive storage URL: ${url} (expected odb://path)`);
  const segments = (m[1] ?? '').split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..' || /[\\*<>?:|"]/.test(s))) {
    throw new DbkError('USAGE', `invalid OneDrive folder in ${url}: names may not contain \\ * < > ? : | " or be . or ..`);
  }
  return segments.join('/');
}

export function odbEndpoints(settings: Settings, repoDir: string): OdbEndpoints {
  const caFile = settings.get('odb_ca_file');
  return {
    graphUrl: baseUrl(settings.get('odb_graph_url') ?? DEFAULT_GRAPH_URL, 'odb_graph_url').replace(/\/v1\.0$/, ''),
    authUrl: baseUrl(settings.get('odb_auth_url') ?? DEFAULT_AUTH_URL, 'odb_auth_url'),
    clientId: settings.get('odb_client_id') ?? DEFAULT_CLIENT_ID,
    ...(caFile ? { caFile: path.resolve(repoDir, caFile) } : {}),
  };
}

export function odbConfig(url: string, settings: Settings, repoDir: string): OdbConfig {
  const tokenFile = settings.get('odb_token');
  if (!tokenFile) {
    throw new DbkError('CONFIG', `no OneDrive token file is set for ${url}`, {
      hint: 'set the storage key odb_token to a file name and run `dbk odb-login` to sign in',
    });
  }
  const driveId = settings.get('odb_drive_id');
  return {
    ...odbEndpoints(settings, repoDir),
    root: odbRoot(url),
    tokenFile: path.resolve(repoDir, tokenFile),
    ...(driveId ? { driveId } : {}),
    maxBatchRequests: batchSize(settings.get('odb_max_batch_requests')),
    simpleUploadLimit: byteCount(settings.get('odb_simple_upload_limit'), DEFAULT_SIMPLE_UPLOAD_LIMIT, 'odb_simple_upload_limit'),
  };
}

function baseUrl(value: string, key: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new DbkError('CONFIG', `${key} is not a URL: ${value}`);
  }
  // the SDK sends no Authorization header and mis-joins nextLinks over plain http
  if (u.protocol !== 'https:') throw new DbkError('CONFIG', `${key} must be an https:// URL: ${value}`);
  return u.href.replace(/\/+$/, '');
}

function batchSize(value: string | undefined): number {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'off' || v === '0' || v === 'false') return 0;
  if (v === 'max') return MAX_BATCH_REQUESTS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH_REQUESTS) {
    throw new DbkError('CONFIG', `odb_max_batch_requests must be 1–${MAX_BATCH_REQUESTS}, max or off, not ${value}`);
  }
  return n;
}

function byteCount(value: string | undefined, fallback: number, key: string): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new DbkError('CONFIG', `${key} must be a positive number of bytes, not ${value}`);
  return n;
}
