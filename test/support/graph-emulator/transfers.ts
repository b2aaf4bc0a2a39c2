// Upload sessions and pre-authenticated download URLs: the two kinds of URL the emulator hands
// out that clients must call WITHOUT their bearer token (as on the service, where such URLs live
// on other hosts). A request that sends one anyway is refused with 401, so tests catch it.

import { randomBytes } from 'node:crypto';
import type { ConflictBehavior, Drive, DriveItem } from './drive.js';
import { itemJson } from './item-json.js';
import { type ApiResponse, graphError, json } from './wire.js';

/** Fragments other than the last must be multiples of 320 KiB and below 60 MiB. */
export const FRAGMENT_UNIT = 320 * 1024;
const MAX_FRAGMENT = 60 * 1024 * 1024;
const SESSION_LIFETIME_MS = 3_600_000;

interface UploadSession {
  parent: DriveItem;
  name: string;
  conflict: ConflictBehavior;
  total?: number;
  data?: Buffer;
  next: number;
  expiresAt: number;
}

export class Transfers {
  private readonly sessions = new Map<string, UploadSession>();

  constructor(
    private readonly drive: Drive,
    private readonly baseUrl: () => string,
    /** bytes the drive may hold in all */
    private readonly quotaBytes: () => number,
  ) {}

  createSession(parent: DriveItem, name: string, conflict: ConflictBehavior, fileSize?: number): ApiResponse {
    if (fileSize !== undefined && this.drive.usedBytes + fileSize > this.quotaBytes()) return quotaExceeded();
    const id = randomBytes(12).toString('hex');
    const expiresAt = Date.now() + SESSION_LIFETIME_MS;
    this.sessions.set(id, { parent, name, conflict, next: 0, expiresAt });
    return json(200, {
      uploadUrl: `${this.baseUrl()}/_upload/${id}`,
      expirationDateTime: new Date(expiresAt).toISOString(),
      nextExpectedRanges: ['0-'],
    });
  }

  status(id: string): ApiResponse {
    const s = this.live(id);
    if (!s) return sessionGone();
    return json(200, { expirationDateTime: new Date(s.expiresAt).toISOString(), nextExpectedRanges: [`${s.next}-`] });
  }

  cancel(id: string): ApiResponse {
    return this.sessions.delete(id) ? { status: 204 } : sessionGone();
  }

  fragment(id: string, contentRange: string | undefined, body: Buffer): ApiResponse {
    const s = this.live(id);
    if (!s) return sessionGone();
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange ?? '');
    if (!m) return graphError(400, 'invalidRequest', 'Content-Range must be "bytes start-end/total".');
    const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (end < start || end >= total || body.length !== end - start + 1) {
      return graphError(400, 'invalidRequest', 'The Content-Range does not match the fragment.');
    }
    if (s.total !== undefined && s.total !== total) return graphError(400, 'invalidRequest', 'The total size changed.');
    const last = end + 1 === total;
    if (body.length > MAX_FRAGMENT || (!last && body.length % FRAGMENT_UNIT !== 0)) {
      return graphError(400, 'invalidRequest', 'Fragments must be a multiple of 320 KiB (except the last) and below 60 MiB.');
    }
    if (start !== s.next) {
      return graphError(416, 'invalidRange', `The expected range starts at ${s.next}.`, undefined);
    }
    if (!s.data) {
      if (this.drive.usedBytes + total > this.quotaBytes()) return quotaExceeded();
      s.total = total;
      s.data = Buffer.alloc(total);
    }
    body.copy(s.data, start);
    s.next = end + 1;
    if (!last) {
      return json(202, { expirationDateTime: new Date(s.expiresAt).toISOString(), nextExpectedRanges: [`${s.next}-`] });
    }
    this.sessions.delete(id);
    return this.commit(s);
  }

  private commit(s: UploadSession): ApiResponse {
    if (!this.drive.byId(s.parent.id)) return graphError(404, 'itemNotFound', 'The parent folder no longer exists.');
    if (this.drive.usedBytes + s.data!.length > this.quotaBytes()) return quotaExceeded();
    const put = this.drive.putFile(s.parent, s.name, s.data!, s.conflict);
    if (!put) return graphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    return json(put.created ? 201 : 200, itemJson(this.drive, put.item));
  }

  /** The 302 target of a content request: names the item, so it serves the item's current bytes. */
  downloadUrl(item: DriveItem): string {
    return `${this.baseUrl()}/_download/${encodeURIComponent(item.id)}`;
  }

  download(itemId: string): ApiResponse {
    const item = this.drive.byId(itemId);
    if (!item?.content) return graphError(404, 'itemNotFound', 'The item was not found.');
    return { status: 200, raw: item.content };
  }

  private live(id: string): UploadSession | undefined {
    const s = this.sessions.get(id);
    if (s && Date.now() > s.expiresAt) this.sessions.delete(id);
    return s && Date.now() <= s.expiresAt ? s : undefined;
  }
}

const sessionGone = () => graphError(404, 'itemNotFound', 'The upload session was not found.');
export const quotaExceeded = () => graphError(507, 'quotaLimitReached', 'Insufficient Space Available');
