// The Graph REST surface over the in-memory drive: path and id addressing, children paging,
// folder creation, simple upload, upload-session creation, PATCH move/rename, DELETE and content
// download by 302. The same router serves top-level requests and the requests inside a $batch.

import { type ConflictBehavior, type Drive, type DriveItem, isValidName } from './drive.js';
import { itemJson, parseSelect } from './item-json.js';
import { quotaExceeded, type Transfers } from './transfers.js';
import { type ApiRequest, type ApiResponse, graphError, json, type RequestKind } from './wire.js';

export interface ApiKnobs {
  /** the most items a children page holds whatever $top asks (the service's own cap is 1,000) */
  maxPageSize: number;
  /** bytes the drive may hold; beyond it uploads get 507 */
  quotaBytes: number;
}

type Action = '' | 'children' | 'content' | 'createUploadSession';

/** A request path taken apart, before anything is looked up. */
export interface Target {
  /** the drive resource itself rather than an item */
  drive?: boolean;
  /** from /drives/{id}/…; absent for /me/drive */
  driveId?: string;
  /** undefined: the root */
  itemId?: string;
  /** decoded path segments below that item */
  segments: string[];
  action: Action;
}

const ACTIONS = new Set<string>(['children', 'content', 'createUploadSession']);

export function parseTarget(path: string): Target | undefined {
  const m = /^\/?(?:me\/drive|drives\/([^/]+))(\/.*)?$/.exec(path);
  if (!m) return undefined;
  const driveId = m[1] === undefined ? undefined : decode(m[1]);
  let rest = m[2] ?? '';
  if (rest === '' || rest === '/') return { drive: true, driveId, segments: [], action: '' };
  let itemId: string | undefined;
  const base = /^\/(?:root|items\/([^/:]+))/.exec(rest);
  if (!base) return undefined;
  if (base[1]) {
    itemId = decode(base[1]);
    if (itemId === undefined) return undefined;
  }
  rest = rest.slice(base[0].length);
  let segments: string[] = [];
  const byPath = /^:(\/[^:]*)?:?/.exec(rest);
  if (byPath) {
    const decoded = (byPath[1] ?? '')
      .split('/')
      .filter((s) => s !== '')
      .map(decode);
    if (decoded.some((s) => s === undefined)) return undefined;
    segments = decoded as string[];
    rest = rest.slice(byPath[0].length);
  }
  const action = rest.replace(/^\//, '');
  if (action !== '' && !ACTIONS.has(action)) return undefined;
  return { driveId, itemId, segments, action: action as Action };
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

export function kindOf(method: string, target: Target | undefined): RequestKind {
  if (!target) return 'other';
  if (target.drive) return 'drive';
  switch (`${method} ${target.action}`) {
    case 'GET ':
      return 'item';
    case 'GET children':
      return 'list';
    case 'POST children':
      return 'createFolder';
    case 'PUT content':
      return 'upload';
    case 'GET content':
      return 'download';
    case 'POST createUploadSession':
      return 'createSession';
    case 'PATCH ':
      return 'move';
    case 'DELETE ':
      return 'delete';
    default:
      return 'other';
  }
}

export class Routes {
  constructor(
    private readonly drive: Drive,
    private readonly transfers: Transfers,
    private readonly knobs: ApiKnobs,
    private readonly baseUrl: () => string,
  ) {}

  handle(req: ApiRequest, target: Target | undefined): ApiResponse {
    if (!target) return graphError(400, 'invalidRequest', `Unsupported request: ${req.method} ${req.path}`);
    if (target.driveId !== undefined && target.driveId !== this.drive.driveId) return notFound();
    if (target.drive) return this.driveResource();
    const base = target.itemId === undefined ? this.drive.root : this.drive.byId(target.itemId);
    if (!base) return notFound();
    const kind = kindOf(req.method, target);
    if (kind === 'upload' || kind === 'createSession') return this.create(req, kind, base, target.segments);
    const item = this.drive.resolve(base, target.segments);
    if (!item) return notFound();
    switch (kind) {
      case 'item':
        return json(200, itemJson(this.drive, item, parseSelect(req.query)));
      case 'list':
        return this.children(req, item);
      case 'createFolder':
        return this.createFolder(req, item);
      case 'download':
        if (!item.content) return notFound();
        return { status: 302, headers: { Location: this.transfers.downloadUrl(item) } };
      case 'move':
        return this.move(req, item);
      case 'delete':
        if (item === this.drive.root) return graphError(403, 'accessDenied', 'The root cannot be deleted.');
        this.drive.remove(item);
        return { status: 204 };
      default:
        return graphError(405, 'invalidRequest', `${req.method} is not supported here.`);
    }
  }

  private driveResource(): ApiResponse {
    const used = this.drive.usedBytes;
    const total = this.knobs.quotaBytes;
    return json(200, {
      id: this.drive.driveId,
      driveType: 'personal',
      owner: { user: { displayName: 'Graph Emulator' } },
      quota: { total, used, remaining: Math.max(0, total - used), deleted: 0, state: used < total ? 'normal' : 'exceeded' },
    });
  }

  private children(req: ApiRequest, folder: DriveItem): ApiResponse {
    if (!folder.isFolder) return graphError(400, 'invalidRequest', 'The item is not a folder.');
    const topRaw = req.query.get('$top');
    const top = topRaw === null ? 200 : Number(topRaw);
    if (!Number.isInteger(top) || top < 1 || top > 1000) return graphError(400, 'invalidRequest', `Invalid page size: ${topRaw}`);
    const cacheKey = `${this.knobs.maxPageSize} ${req.query.toString()}`;
    if (folder.pageCache?.generation !== folder.generation) folder.pageCache = { generation: folder.generation, pages: new Map() };
    const cached = folder.pageCache.pages.get(cacheKey);
    if (cached !== undefined) return { status: 200, jsonParts: [cached] };
    const token = req.query.get('$skiptoken');
    const after = token === null ? undefined : Buffer.from(token, 'base64url').toString('utf8');
    const page = this.drive.page(folder, Math.min(top, this.knobs.maxPageSize), after);
    const select = parseSelect(req.query);
    const parentPath = this.drive.pathOf(folder);
    const body: Record<string, unknown> = { value: page.items.map((i) => itemJson(this.drive, i, select, parentPath)) };
    if (page.next !== undefined) {
      const selectRaw = req.query.get('$select');
      const selectPart = selectRaw ? `&$select=${encodeURIComponent(selectRaw).replaceAll('%2C', ',')}` : '';
      const skip = Buffer.from(page.next, 'utf8').toString('base64url');
      const folderUrl = `${this.baseUrl()}/v1.0/drives/${this.drive.driveId}/items/${encodeURIComponent(folder.id)}`;
      body['@odata.nextLink'] = `${folderUrl}/children?$top=${top}${selectPart}&$skiptoken=${skip}`;
    }
    // the service's CPU is not the client's: caching pages, encoded, keeps the emulator out of the way of benchmarks
    const bytes = Buffer.from(JSON.stringify(body));
    folder.pageCache.pages.set(cacheKey, bytes);
    return { status: 200, jsonParts: [bytes] };
  }

  private createFolder(req: ApiRequest, parent: DriveItem): ApiResponse {
    if (!parent.isFolder) return graphError(400, 'invalidRequest', 'The parent is not a folder.');
    const body = parseJson(req.body);
    const name = body?.name;
    if (typeof name !== 'string' || !isValidName(name)) return graphError(400, 'invalidRequest', 'Invalid or missing name.');
    if (typeof body?.folder !== 'object') return graphError(400, 'invalidRequest', 'Only folders can be created without content.');
    const conflict = conflictOf(body['@microsoft.graph.conflictBehavior'] ?? body['@name.conflictBehavior'], 'fail');
    if (!conflict) return graphError(400, 'invalidRequest', 'Invalid conflict behavior.');
    const created = this.drive.createFolder(parent, name, conflict);
    if (!created) return nameTaken();
    return json(201, itemJson(this.drive, created));
  }

  /** PUT …/content and POST …/createUploadSession: the target may not exist yet, its parent must. */
  private create(req: ApiRequest, kind: RequestKind, base: DriveItem, segments: string[]): ApiResponse {
    const existing = this.drive.resolve(base, segments);
    let parent: DriveItem | undefined;
    let name: string;
    if (existing?.isFolder) return graphError(400, 'invalidRequest', 'The target is a folder.');
    if (existing) {
      [parent, name] = [existing.parent!, existing.name];
    } else {
      name = segments.at(-1) ?? '';
      parent = this.drive.resolve(base, segments.slice(0, -1));
      if (!isValidName(name)) return graphError(400, 'invalidRequest', 'Invalid or missing file name.');
      if (!parent) return notFound();
    }
    if (!parent.isFolder) return graphError(400, 'invalidRequest', 'The parent is not a folder.');
    if (kind === 'createSession') {
      const item = (parseJson(req.body)?.item ?? {}) as Record<string, unknown>;
      const conflict = conflictOf(item['@microsoft.graph.conflictBehavior'] ?? item['@name.conflictBehavior'], 'replace');
      if (!conflict) return graphError(400, 'invalidRequest', 'Invalid conflict behavior.');
      const fileSize = typeof item.fileSize === 'number' ? item.fileSize : undefined;
      return this.transfers.createSession(parent, name, conflict, fileSize);
    }
    const conflict = conflictOf(req.query.get('@microsoft.graph.conflictBehavior') ?? undefined, 'replace');
    if (!conflict) return graphError(400, 'invalidRequest', 'Invalid conflict behavior.');
    if (this.drive.usedBytes + req.body.length > this.knobs.quotaBytes) return quotaExceeded();
    const put = this.drive.putFile(parent, name, req.body, conflict);
    if (!put) return nameTaken();
    return json(put.created ? 201 : 200, itemJson(this.drive, put.item));
  }

  private move(req: ApiRequest, item: DriveItem): ApiResponse {
    if (item === this.drive.root) return graphError(400, 'invalidRequest', 'The root cannot be moved.');
    const body = parseJson(req.body);
    if (!body) return graphError(400, 'invalidRequest', 'A JSON body is required.');
    const name = body.name ?? item.name;
    if (typeof name !== 'string' || !isValidName(name)) return graphError(400, 'invalidRequest', 'Invalid name.');
    let parent = item.parent!;
    const ref = body.parentReference as { id?: unknown; path?: unknown } | undefined;
    if (ref) {
      const found = this.parentFromReference(ref);
      if (!found) return graphError(400, 'invalidRequest', 'The parentReference does not name a folder.');
      parent = found;
    }
    if (!parent.isFolder || this.drive.isInside(parent, item)) return graphError(400, 'invalidRequest', 'Invalid move target.');
    const conflict = conflictOf(body['@microsoft.graph.conflictBehavior'] ?? req.query.get('@microsoft.graph.conflictBehavior') ?? undefined, 'fail');
    if (!conflict) return graphError(400, 'invalidRequest', 'Invalid conflict behavior.');
    if (!this.drive.move(item, parent, name, conflict)) return nameTaken();
    return json(200, itemJson(this.drive, item));
  }

  private parentFromReference(ref: { id?: unknown; path?: unknown }): DriveItem | undefined {
    if (typeof ref.id === 'string') return this.drive.byId(ref.id);
    if (typeof ref.path !== 'string') return undefined;
    const m = /^\/drive(?:s\/[^/]+)?\/root:(.*)$/.exec(ref.path);
    if (!m) return undefined;
    const segments = (m[1] ?? '')
      .split('/')
      .filter((s) => s !== '')
      .map(decode);
    if (segments.some((s) => s === undefined)) return undefined;
    return this.drive.resolve(this.drive.root, segments as string[]);
  }
}

function conflictOf(value: unknown, fallback: ConflictBehavior): ConflictBehavior | undefined {
  if (value === undefined || value === null) return fallback;
  return value === 'fail' || value === 'replace' || value === 'rename' ? value : undefined;
}

export function parseJson(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const notFound = () => graphError(404, 'itemNotFound', 'The resource could not be found.');
const nameTaken = () => graphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
