// One error type for everything dbk reports: a stable code, whether retrying can help, and
// guidance for the user. Only the CLI turns these into messages and exit codes.

export type ErrorCode =
  | 'NOT_FOUND' // a file or object does not exist
  | 'ALREADY_EXISTS' // a create or rename target is taken
  | 'TRANSIENT' // a storage call failed in a way a retry may cure (network, throttling)
  | 'PERMANENT' // a storage call failed for good (permission, quota, bad request)
  | 'CORRUPT' // stored data failed to decode or verify
  | 'WRONG_PASSWORD'
  | 'HOST_KEY' // an SFTP server presented a key other than the pinned one
  | 'USAGE' // bad options or arguments
  | 'CONFIG' // preferences or storage configuration missing or inconsistent
  | 'MISSING_CHUNKS' // referenced chunks are absent from the storage
  | 'CONFLICT' // another client's change got in the way; running the command again resolves it
  | 'ABORTED';

export interface DbkErrorOptions {
  temporary?: boolean;
  hint?: string;
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class DbkError extends Error {
  readonly code: ErrorCode;
  /** true when the same call may succeed if tried again */
  readonly temporary: boolean;
  /** what the user can do about it, one sentence */
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: DbkErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DbkError';
    this.code = code;
    this.temporary = opts.temporary ?? code === 'TRANSIENT';
    this.hint = opts.hint;
    this.data = opts.data ?? {};
  }
}

export function isDbkError(e: unknown, code?: ErrorCode): e is DbkError {
  return e instanceof DbkError && (code === undefined || e.code === code);
}

export const notFound = (path: string, cause?: unknown) => new DbkError('NOT_FOUND', `not found: ${path}`, { data: { path }, cause });
export const alreadyExists = (path: string, cause?: unknown) => new DbkError('ALREADY_EXISTS', `already exists: ${path}`, { data: { path }, cause });
export const corrupt = (what: string, detail: string) => new DbkError('CORRUPT', `${what}: ${detail}`, { data: { what } });
export const usage = (message: string) => new DbkError('USAGE', message);

/** Exit codes, documented in README: one per outcome a script may want to tell apart. */
export const ExitCode = {
  OK: 0,
  FAILED: 1, // an operation failed (storage, corrupt data, wrong password, …)
  USAGE: 2, // bad command line
  PARTIAL: 3, // finished, but some files were skipped or some chunks are missing/corrupt
  INTERRUPTED: 130,
} as const;
