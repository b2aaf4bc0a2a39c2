// JSON batching: POST /$batch with up to 20 requests, answered in an order other than the one
// asked (clients must match by id), each inner request authorised, throttled and counted on its own.

import { parseJson } from './routes.js';
import { type ApiRequest, type ApiResponse, graphError, jsonPartsOf } from './wire.js';

export const MAX_BATCH = 20;

interface InnerRequest {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

export function handleBatch(outer: ApiRequest, run: (req: ApiRequest) => ApiResponse): ApiResponse {
  const parsed = parseJson(outer.body)?.requests;
  const invalid = validate(parsed);
  if (invalid) return graphError(400, 'invalidRequest', invalid);
  const requests = parsed as InnerRequest[];
  const statusById = new Map<string, number>();
  const responses: Buffer[][] = [];
  for (const r of requests) {
    const failedDependency = (r.dependsOn ?? []).some((d) => (statusById.get(d) ?? 424) >= 400);
    const res = failedDependency ? graphError(424, 'failedDependency', 'A request this one depends on failed.') : run(innerRequest(outer, r));
    statusById.set(r.id, res.status);
    responses.push(innerResponse(r.id, res));
  }
  // pieces, not one buffer: inner bodies may be cached listing pages, already serialised and encoded,
  // and megabytes of copies a request would make the emulator's own garbage collection (of a heap
  // holding a million items) compete with the client for the CPU in benchmarks
  const parts = responses.reverse().flatMap((r, i) => (i === 0 ? r : [COMMA, ...r]));
  return { status: 200, jsonParts: [OPEN, ...parts, CLOSE] };
}

function validate(requests: unknown): string | undefined {
  if (!Array.isArray(requests) || requests.length === 0) return 'The batch must hold a non-empty "requests" array.';
  if (requests.length > MAX_BATCH) return `A batch holds at most ${MAX_BATCH} requests.`;
  const ids = new Set<string>();
  for (const r of requests as Partial<InnerRequest>[]) {
    if (typeof r?.id !== 'string' || typeof r.method !== 'string' || typeof r.url !== 'string') {
      return 'Each request needs string id, method and url.';
    }
    if (ids.has(r.id)) return `Duplicate request id ${r.id}.`;
    ids.add(r.id);
    if (/^[a-z]+:\/\//i.test(r.url)) return 'Batch request URLs must be relative.';
    const hasType = Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === 'content-type');
    if (r.body !== undefined && !hasType) return `Request ${r.id} has a body but no Content-Type header.`;
    if (r.dependsOn?.some((d) => !ids.has(d))) return `Request ${r.id} depends on a request not before it.`;
  }
  return undefined;
}

function innerRequest(outer: ApiRequest, r: InnerRequest): ApiRequest {
  const url = r.url.startsWith('/') ? r.url : `/${r.url}`;
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (outer.headers.authorization) headers.authorization = outer.headers.authorization;
  return {
    method: r.method.toUpperCase(),
    path: q < 0 ? url : url.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    headers,
    body: r.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(r.body)),
  };
}

const [OPEN, COMMA, CLOSE, END] = ['{"responses":[', ',', ']}', '}'].map((s) => Buffer.from(s)) as [Buffer, Buffer, Buffer, Buffer];

/** One inner response as the pieces of its JSON text. */
function innerResponse(id: string, res: ApiResponse): Buffer[] {
  const headers: Record<string, string> = { ...res.headers };
  let body = jsonPartsOf(res);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  else if (res.raw) {
    headers['Content-Type'] = 'application/octet-stream';
    body = [Buffer.from(JSON.stringify(res.raw.toString('base64')))];
  }
  const head = `{"id":${JSON.stringify(id)},"status":${res.status},"headers":${JSON.stringify(headers)}`;
  return body === undefined ? [Buffer.from(`${head}}`)] : [Buffer.from(`${head},"body":`), ...body, END];
}
