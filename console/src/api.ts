// Same-origin calls to the server's JSON API. The session cookie authenticates; every POST carries
// the CSRF token from /api/session. A status of 400 or more becomes an ApiError with the server's
// one-line message.

import { percentEncodeName } from '../../src/serve/url-names.js';
import type { Diff, Job, JobRequest, LogFile, Overview, Revision, Session, TreeIndexing, TreePage } from './types';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let csrf = '';

type Params = Record<string, string | number | boolean | undefined>;

/** `/api/x?a=1&b=2`, leaving out undefined values; names go as their bytes (a path may hold bytes that are not UTF-8) */
export function apiUrl(path: string, params: Params = {}): string {
  const pairs = Object.entries(params).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${percentEncodeName(String(value))}`]));
  return pairs.length > 0 ? `${path}?${pairs.join('&')}` : path;
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (typeof body.error === 'string') message = body.error;
    } catch {
      if (text.trim()) message = text.trim().split('\n')[0] ?? message;
    }
  } catch {
    // the body could not be read: keep the status line
  }
  return new ApiError(message, response.status);
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin', ...init });
  } catch (e) {
    throw new ApiError(`cannot reach the dbk server (${e instanceof Error ? e.message : String(e)})`, 0);
  }
  if (response.status >= 400) throw await failure(response);
  return response;
}

async function getJson<T>(path: string, params?: Params): Promise<T> {
  const response = await request(apiUrl(path, params));
  return (await response.json()) as T;
}

async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const response = await request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Dbk-Csrf': csrf },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

export async function getSession(): Promise<Session> {
  const session = await getJson<Session>('/api/session');
  csrf = session.csrf;
  return session;
}

export function getOverview(storage: string, refresh = false): Promise<Overview> {
  return getJson<Overview>('/api/overview', { storage, refresh: refresh ? 1 : undefined });
}

export function getRevisions(storage: string, id: string): Promise<Revision[]> {
  return getJson<Revision[]>('/api/revisions', { storage, id });
}

export function getDiff(storage: string, id: string, from: number, to: number): Promise<Diff> {
  return getJson<Diff>('/api/diff', { storage, id, from, to });
}

/** A page of a folder, or (while the revision's index is first built) how far along that is. */
export function getTree(storage: string, id: string, revision: number, path: string, offset: number, limit: number): Promise<TreePage | TreeIndexing> {
  return getJson<TreePage | TreeIndexing>('/api/tree', { storage, id, r: revision, path, offset, limit });
}

export function fileUrl(storage: string, id: string, revision: number, path: string): string {
  return apiUrl('/api/file', { storage, id, r: revision, path });
}

export function tarUrl(storage: string, id: string, revision: number, path: string): string {
  return apiUrl('/api/tar', { storage, id, r: revision, path });
}

export async function startJob(job: JobRequest): Promise<Job> {
  return (await postJson<{ job: Job }>('/api/jobs', job)).job;
}

export function getJobs(): Promise<Job[]> {
  return getJson<Job[]>('/api/jobs');
}

export async function cancelJob(id: string): Promise<Job> {
  return (await postJson<{ job: Job }>(`/api/jobs/${encodeURIComponent(id)}/cancel`)).job;
}

export function jobEventsUrl(id: string): string {
  return `/api/jobs/${encodeURIComponent(id)}/events`;
}

export function getLogs(): Promise<LogFile[]> {
  return getJson<LogFile[]>('/api/logs');
}

export async function getLog(name: string): Promise<string> {
  return (await request(`/api/logs/${encodeURIComponent(name)}`)).text();
}
