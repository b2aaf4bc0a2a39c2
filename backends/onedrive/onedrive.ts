// OneDrive storage (odb://path) over Microsoft Graph, through @microsoft/microsoft-graph-client.
// Items are addressed by path below the storage folder (/me/drive/root:/<folder>/<path>), so no
// id bookkeeping is needed; folders known to exist are remembered to save requests. Fossils are
// renamed in place (PATCH name), which OneDrive does cheaply within a folder. With batching on,
// stats, renames in place and deletes made at the same time share $batch requests (batched-calls.ts).

import { ResponseType } from '@microsoft/microsoft-graph-client';
import { alreadyExists, isDbkError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Backend, Entry, FoundFiles, ListTreeOptions } from '../backend.js';
import { BatchedCalls, type SmallCall } from './batched-calls.js';
import type { OdbConfig } from './config.js';
import { type CallTrace, GraphCaller } from './graph-caller.js';
import { listFolder, listTreeParallel } from './listing.js';
import { DEFAULT_FRAGMENT_SIZE, FRAGMENT_UNIT, upload } from './upload.js';

/** Tuning that users do not need but tests do. */
export interface OneDriveTuning {
  /** $top of children requests (default and maximum 1000) */
  pageSize?: number;
  /** upload-session fragment size, a multiple of 320 KiB (default 10 MiB) */
  fragmentSize?: number;
}

/** $batch requests of small calls on their way at once, whatever `threads` says (each is one round trip for 20 calls) */
const MIN_BATCH_SLOTS = 8;

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const join = (a: string, b: string) => (a === '' ? b : b === '' ? a : `${a}/${b}`);

export class OneDriveBackend implements Backend {
  readonly location: string;
  /** exposed for tests and benchmarks: throttling and refresh statistics */
  readonly caller: GraphCaller;
  private readonly driveBase: string;
  private readonly childrenQuery: string;
  private readonly fragmentSize: number;
  /** full paths (below the drive root) of folders known to exist */
  private readonly knownFolders = new Set<string>(['']);
  /** stats, renames in place and deletes gathered into $batch requests, when batching is on */
  private readonly small: BatchedCalls | undefined;
  readonly smallCallsInFlight: number | undefined;

  constructor(
    readonly config: OdbConfig,
    ctx: { threads: number; log: Logger },
    tuning: OneDriveTuning = {},
  ) {
    this.location = `odb://${config.root}`;
    this.caller = new GraphCaller(config, ctx.threads, ctx.log);
    this.driveBase = config.driveId ? `/drives/${encodeURIComponent(config.driveId)}` : '/me/drive';
    this.childrenQuery = `$top=${Math.min(1000, tuning.pageSize ?? 1000)}&$select=name,size,folder`;
    this.fragmentSize = tuning.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
    if (this.fragmentSize <= 0 || this.fragmentSize % FRAGMENT_UNIT !== 0) throw new RangeError('fragmentSize must be a multiple of 320 KiB');
    if (config.maxBatchRequests > 1) {
      // at least 8 batches on their way: a prune's 5,000 batches of 20 at 30 ms a round trip take
      // 5000 × 30 ms / slots, which at 4 slots alone is 37 s
      const slots = Math.max(MIN_BATCH_SLOTS, ctx.threads);
      this.small = new BatchedCalls(this.caller, config.maxBatchRequests, slots, (c) => this.single(c));
      this.smallCallsInFlight = slots * config.maxBatchRequests;
    }
  }

  private single(c: SmallCall): Promise<unknown> {
    return this.caller.api(c.what, c.url, (r) => (c.method === 'GET' ? r.get() : c.method === 'DELETE' ? r.delete() : r.patch(c.body)), undefined, c.trace);
  }

  private smallCall(c: SmallCall): Promise<unknown> {
    return this.small ? this.small.call(c) : this.single(c);
  }

  /** Graph path of a storage path: /me/drive/root:/<root>/<p>. */
  private itemUrl(p: string): string {
    return this.driveUrl(join(this.config.root, p));
  }

  /** Graph path of a path below the drive root; /me/drive/root for the drive root itself. */
  private driveUrl(full: string, action?: 'children'): string {
    const item = full === '' ? `${this.driveBase}/root` : `${this.driveBase}/root:/${full.split('/').map(encodeURIComponent).join('/')}`;
    return action === undefined ? item : `${item}${full === '' ? '/' : ':/'}${action}`;
  }

  private childrenUrl(dir: string): string {
    return `${this.driveUrl(join(this.config.root, dir), 'children')}?${this.childrenQuery}`;
  }

  list(dir: string): Promise<Entry[]> {
    return listFolder(this.caller, `list ${dir}`, this.childrenUrl(dir));
  }

  listTree(dir: string, options: ListTreeOptions, found: FoundFiles): Promise<void> {
    return listTreeParallel(
      {
        caller: this.caller,
        what: `list ${dir}`,
        childrenUrl: (rel) => this.childrenUrl(join(dir, rel)),
        batch: this.config.maxBatchRequests,
        versionRoot: `${this.config.graphUrl}/v1.0`,
      },
      options,
      found,
    );
  }

  async read(p: string): Promise<Buffer> {
    // ARRAYBUFFER: the SDK's default would parse the bytes by their content type
    const bytes = await this.caller.api(`read ${p}`, `${this.itemUrl(p)}:/content`, (r) => r.responseType(ResponseType.ARRAYBUFFER).get());
    return Buffer.from(bytes as ArrayBuffer);
  }

  async write(p: string, data: Uint8Array): Promise<void> {
    const body = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const parent = parentOf(p);
    await this.mkdir(parent);
    const trace: CallTrace = {};
    const target = { caller: this.caller, path: p, itemUrl: this.itemUrl(p), simpleLimit: this.config.simpleUploadLimit, fragmentSize: this.fragmentSize, trace };
    try {
      await upload(target, body);
    } catch (e) {
      if (isDbkError(e, 'NOT_FOUND')) {
        // the folder was removed behind our back: make it again, once
        this.forgetFolders(parent);
        await this.mkdir(parent);
        return upload(target, body);
      }
      // a try whose answer was lost may have stored the file: if the bytes there are ours, it did
      if (isDbkError(e, 'ALREADY_EXISTS') && trace.unanswered && (await this.holds(p, body))) return;
      throw e;
    }
  }

  /** Whether `p` holds exactly `data` (checked by size first, then by content). */
  private async holds(p: string, data: Buffer): Promise<boolean> {
    if ((await this.stat(p))?.size !== data.length) return false;
    return (await this.read(p)).equals(data);
  }

  async rename(from: string, to: string): Promise<void> {
    const toParent = parentOf(to);
    const patch: Record<string, unknown> = { name: baseName(to) };
    if (parentOf(from) !== toParent) {
      await this.mkdir(toParent);
      const folder = (await this.caller.api(`rename ${to}`, `${this.itemUrl(toParent)}?$select=id`, (r) => r.get())) as { id: string };
      patch.parentReference = { id: folder.id };
    }
    const trace: CallTrace = {};
    try {
      await this.smallCall({ what: `rename ${from}`, method: 'PATCH', url: this.itemUrl(from), body: patch, trace });
    } catch (e) {
      // a retried PATCH whose first try landed finds the source gone and the target there
      if (isDbkError(e, 'NOT_FOUND') && trace.unanswered && (await this.stat(to)) && !(await this.stat(from))) return;
      throw isDbkError(e, 'ALREADY_EXISTS') ? alreadyExists(to, e) : e;
    }
  }

  async delete(p: string): Promise<void> {
    try {
      await this.smallCall({ what: `delete ${p}`, method: 'DELETE', url: this.itemUrl(p) });
    } catch (e) {
      if (!isDbkError(e, 'NOT_FOUND')) throw e;
    }
  }

  async stat(p: string): Promise<Entry | undefined> {
    try {
      const item = (await this.smallCall({ what: `stat ${p}`, method: 'GET', url: `${this.itemUrl(p)}?$select=name,size,folder` })) as {
        size?: number;
        folder?: unknown;
      };
      const name = baseName(p);
      return item.folder ? { name, size: 0, dir: true } : { name, size: item.size ?? 0, dir: false };
    } catch (e) {
      if (isDbkError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  mkdir(p: string): Promise<void> {
    return this.ensureFolder(join(this.config.root, p));
  }

  /** Creates the deepest folder first, and its parents only when told they are missing (404). */
  private async ensureFolder(full: string, parentMade = false): Promise<void> {
    if (this.knownFolders.has(full)) return;
    const body = { name: baseName(full), folder: {}, '@microsoft.graph.conflictBehavior': 'fail' };
    try {
      await this.caller.api(`mkdir ${full}`, this.driveUrl(parentOf(full), 'children'), (r) => r.post(body));
    } catch (e) {
      if (isDbkError(e, 'NOT_FOUND') && full.includes('/') && !parentMade) {
        await this.ensureFolder(parentOf(full));
        return this.ensureFolder(full, true);
      }
      if (!isDbkError(e, 'ALREADY_EXISTS')) throw e;
    }
    this.knownFolders.add(full);
  }

  private forgetFolders(p: string): void {
    for (let full = join(this.config.root, p); full !== ''; full = parentOf(full)) this.knownFolders.delete(full);
  }

  async close(): Promise<void> {
    this.caller.close();
  }
}
