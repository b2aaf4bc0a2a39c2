// S3's answers in dbk's error codes. The SDK gives an error a name (the S3 error code, or the
// HTTP status for bodiless HEAD answers) and an HTTP status; a failure below HTTP has a Node
// error code instead.

import { alreadyExists, DbkError, notFound } from '../../src/errors.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** Statuses and names a retry may cure: the server's own trouble, throttling, a dropped connection. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_NAMES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'ConditionalRequestConflict', 'TimeoutError', 'RequestTimeTooSkewed']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE']);

const statusOf = (e: SdkError) => e.$metadata?.httpStatusCode;

/** Whether the server asked this client to slow down: every request of the storage then waits. */
export function isThrottling(e: unknown): boolean {
  const err = e as SdkError;
  return err?.name === 'SlowDown' || statusOf(err) === 503 || statusOf(err) === 429;
}

/** The Retry-After an answer carried, as given, if any. */
export const retryAfterOf = (e: unknown): string | undefined => (e as SdkError)?.$response?.headers?.['retry-after'];

/** An SDK failure of `what` (e.g. "read chunks/ab/…") on `path`, as the DbkError the contract promises. */
export function toDbkError(e: unknown, what: string, path: string, location: string): DbkError {
  if (e instanceof DbkError) return e;
  const err = (e ?? {}) as SdkError;
  const status = statusOf(err);
  const name = err.name ?? '';
  const detail = `${name || err.code || 'error'}${status ? ` (HTTP ${status})` : ''}`;
  if (status === 404 && (name === 'NoSuchKey' || name === 'NotFound' || name === '404')) return notFound(path, e);
  if (status === 412 || name === 'PreconditionFailed') return alreadyExists(path, e);
  const dropped = status === undefined && (NETWORK_CODES.has(err.code ?? '') || /socket hang up|ECONNRESET|EPIPE/.test(err.message ?? ''));
  if ((status !== undefined && TRANSIENT_STATUS.has(status)) || TRANSIENT_NAMES.has(name) || dropped) {
    return new DbkError('TRANSIENT', `${location}: ${what}: ${detail}: ${err.message ?? ''}`.trim(), { cause: e });
  }
  return new DbkError('PERMANENT', `${location}: ${what}: ${detail}`, { cause: e, hint: hintFor(name, status) });
}

function hintFor(name: string, status: number | undefined): string {
  if (name === 'NoSuchBucket') return 'create the bucket first, or check the bucket name and the endpoint in the URL';
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AuthorizationHeaderMalformed') {
    return 'check s3_access_key_id, s3_secret_access_key and s3_region (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)';
  }
  if (name === 'AccessDenied' || status === 403) return 'the keys in use may not read, write or delete here: check their policy for this bucket and prefix';
  if (name === 'NotImplemented' || status === 501) return 'the server may not support conditional writes: set s3_conditional_writes=false for this storage';
  if (name === 'CredentialsProviderError') return 'set s3_access_key_id and s3_secret_access_key, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE';
  return 'the storage refused the request; running again will not help until the cause is fixed';
}
