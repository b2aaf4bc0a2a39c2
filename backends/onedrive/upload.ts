// Uploads. Up to the simple-upload limit: one PUT …:/content. Above it: an upload session, sent in
// fragments of a multiple of 320 KiB to the session's pre-authenticated URL (no bearer token).
//
// No temporary name is needed for atomicity: a simple PUT creates the item only once its whole
// body has arrived, and an upload session commits the item only when its last fragment arrives;
// before that, nothing is visible under the name, and an abandoned session just expires. Both ask
// for conflictBehavior=fail, so an existing file is never replaced (409 → ALREADY_EXISTS).
//
// A dropped connection in the middle of a session: the fragment is sent again, and if the service
// had already taken it (416), the session's status says where to go on; a session that is gone
// (404, expired) is started over.

import { alreadyExists, DbkError } from '../../src/errors.js';
import { type CallTrace, dbkErrorOf, type GraphCaller } from './graph-caller.js';
import type { HttpResponse } from './https-transport.js';

/** Session fragments must be multiples of this. */
export const FRAGMENT_UNIT = 320 * 1024;
/** 32 × 320 KiB = 10 MiB: few round trips, small enough to resend after a failure. */
export const DEFAULT_FRAGMENT_SIZE = 32 * FRAGMENT_UNIT;
const MAX_SESSIONS = 3;

const FAIL_ON_CONFLICT = '@microsoft.graph.conflictBehavior=fail';

export interface UploadTarget {
  caller: GraphCaller;
  /** storage path, for messages */
  path: string;
  /** Graph path of the item, e.g. /me/drive/root:/store/chunks/ab/cd (no trailing colon) */
  itemUrl: string;
  simpleLimit: number;
  fragmentSize: number;
  trace: CallTrace;
}

export async function upload(t: UploadTarget, data: Buffer): Promise<void> {
  if (data.length <= t.simpleLimit) {
    await t.caller.api(`write ${t.path}`, `${t.itemUrl}:/content?${FAIL_ON_CONFLICT}`, (r) => r.header('Content-Type', 'application/octet-stream').put(data), undefined, t.trace);
    return;
  }
  for (let session = 1; session <= MAX_SESSIONS; session++) {
    const created = (await t.caller.api(`write ${t.path}`, `${t.itemUrl}:/createUploadSession`, (r) => r.post({ item: { '@microsoft.graph.conflictBehavior': 'fail' } }), undefined, t.trace)) as {
      uploadUrl?: unknown;
    };
    if (typeof created?.uploadUrl !== 'string') throw new DbkError('TRANSIENT', `write ${t.path}: the upload session has no uploadUrl`);
    if ((await sendFragments(t, created.uploadUrl, data)) === 'done') return;
  }
  throw new DbkError('TRANSIENT', `write ${t.path}: upload sessions kept expiring`);
}

/** Sends `data` through one session; 'restart' when the session is gone. */
async function sendFragments(t: UploadTarget, uploadUrl: string, data: Buffer): Promise<'done' | 'restart'> {
  const what = `write ${t.path}`;
  let offset = 0;
  for (let resumes = 0; resumes <= 10; ) {
    const end = Math.min(data.length, offset + t.fragmentSize);
    const res = await t.caller.plain(
      what,
      { method: 'PUT', url: uploadUrl, headers: { 'Content-Range': `bytes ${offset}-${end - 1}/${data.length}` }, body: data.subarray(offset, end) },
      undefined,
      t.trace,
    );
    if (res.status === 200 || res.status === 201) return 'done';
    if (res.status === 202) {
      const next = nextExpected(res) ?? end;
      if (next <= offset || next >= data.length) resumes++; // the session is not advancing as it should
      offset = Math.min(next, data.length - 1);
      continue;
    }
    if (res.status === 404) return 'restart';
    if (res.status === 409) throw alreadyExists(t.path);
    if (res.status === 416) {
      // the service has this range already (our earlier try landed but its answer was lost)
      resumes++;
      const status = await t.caller.plain(what, { method: 'GET', url: uploadUrl }, undefined, t.trace);
      const at = status.status === 200 ? nextExpected(status) : undefined;
      if (at === undefined) return 'restart';
      offset = at;
      continue;
    }
    await cancel(t, uploadUrl);
    throw dbkErrorOf(failureOfBody(res), what);
  }
  await cancel(t, uploadUrl);
  throw new DbkError('TRANSIENT', `${what}: the upload session did not advance`);
}

/** The start of the first range in {"nextExpectedRanges":["n-"]}. */
function nextExpected(res: HttpResponse): number | undefined {
  try {
    const ranges = (JSON.parse(res.body.toString('utf8')) as { nextExpectedRanges?: unknown }).nextExpectedRanges;
    const first = Array.isArray(ranges) ? /^(\d+)-/.exec(String(ranges[0])) : null;
    return first ? Number(first[1]) : undefined;
  } catch {
    return undefined;
  }
}

function failureOfBody(res: HttpResponse): { status: number; code?: string; message: string } {
  try {
    const error = (JSON.parse(res.body.toString('utf8')) as { error?: { code?: string; message?: string } }).error;
    return { status: res.status, code: error?.code, message: error?.message ?? `HTTP ${res.status}` };
  } catch {
    return { status: res.status, message: `HTTP ${res.status}` };
  }
}

/** Best effort: an abandoned session would expire by itself anyway. */
async function cancel(t: UploadTarget, uploadUrl: string): Promise<void> {
  await t.caller.transport.send({ method: 'DELETE', url: uploadUrl }).catch(() => undefined);
}
