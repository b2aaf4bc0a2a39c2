// The emulator's internal request/response shapes, shared by the HTTP front end and $batch: both
// turn what they receive into an ApiRequest, route it, and serialise the ApiResponse.

export interface ApiRequest {
  method: string;
  /** path below the version prefix, still percent-encoded, e.g. "/me/drive/root:/a%20b:/children" */
  path: string;
  query: URLSearchParams;
  /** lower-case header names */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  /** serialised as application/json */
  json?: unknown;
  /**
   * JSON already serialised and encoded, in pieces sent one after another (a cached listing page;
   * a $batch answer made of such pages): sent as they are, never copied into one buffer
   */
  jsonParts?: readonly Buffer[];
  /** sent as application/octet-stream */
  raw?: Buffer;
}

/** What a request does, for counters, fault targeting and resource-unit costs. */
export type RequestKind =
  | 'drive'
  | 'item'
  | 'list'
  | 'createFolder'
  | 'upload'
  | 'createSession'
  | 'uploadFragment'
  | 'uploadStatus'
  | 'cancelSession'
  | 'download'
  | 'downloadContent'
  | 'move'
  | 'delete'
  | 'batch'
  | 'token'
  | 'deviceCode'
  | 'other';

/** Resource units as OneDrive for Business meters them: 1 for a read or download, 2 for the rest. */
export function unitsOf(kind: RequestKind): number {
  return kind === 'item' || kind === 'drive' || kind === 'download' || kind === 'downloadContent' ? 1 : 2;
}

let requestCounter = 0;

/** The service's error body: {"error":{"code","message","innerError":{"request-id","date"}}}. */
export function graphError(status: number, code: string, message: string, headers?: Record<string, string>): ApiResponse {
  const innerError = { 'request-id': `emu-${++requestCounter}`, date: new Date().toISOString() };
  return { status, headers, json: { error: { code, message, innerError } } };
}

export const jsonPartsOf = (r: ApiResponse): readonly Buffer[] | undefined => r.jsonParts ?? (r.json === undefined ? undefined : [Buffer.from(JSON.stringify(r.json))]);

export const json = (status: number, body: unknown, headers?: Record<string, string>): ApiResponse => ({
  status,
  json: body,
  headers,
});
