// S3-compatible object storage (s3://, s3+https://, s3+http://) through @aws-sdk/client-s3.
// Objects are named <prefix><path>; folders are the '/'-separated key prefixes, and an empty
// folder made by mkdir is the usual zero-byte "<path>/" marker.
//
// - A PUT is atomic, so writes need no temporary name. Writes never overwrite: If-None-Match: *,
//   or a HEAD first on servers without conditional writes (s3_conditional_writes=false).
// - A rename is a server-side copy and then a delete (copy() alone is offered too). Interrupted
//   between the two, both names hold the bytes; the next rename onto that name reports
//   ALREADY_EXISTS as the contract says, which is the case catalog/fossil-moves.ts already reasons
//   out (it replaces a fossil beside its chunk; a resurrection copies and finds the chunk present).
// - Only this module's own retry policy (backends/retry.ts) retries, so the SDK makes one attempt;
//   throttling (503 SlowDown, 429) pauses every request of the storage, as OneDrive's does.

import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type StorageClass } from '@aws-sdk/client-s3';
import { alreadyExists, DbkError, isDbkError, notFound } from '../../src/errors.js';
import type { Backend, Entry, FoundFiles, ListTreeOptions } from '../backend.js';
import { isTempName } from '../temp-names.js';
import { backoffMs, parseRetryAfter, ThrottleGate } from '../throttle.js';
import type { S3Config } from './config.js';
import { isThrottling, retryAfterOf, toDbkError } from './errors.js';
import { listFoldersInParallel } from './listing.js';

// The SDK warns on every start that its releases after January 2027 need Node 22; this release
// (pinned in package.json) supports Node 20, and the warning would reach every user's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

export class S3Backend implements Backend {
  readonly location: string;
  readonly smallCallsInFlight: number;
  private readonly client: S3Client;
  private readonly gate = new ThrottleGate();
  /** throttled answers in a row, for the pause's backoff */
  private throttledInARow = 0;

  constructor(
    private readonly config: S3Config,
    ctx: { threads: number },
  ) {
    this.location = config.location;
    // small calls are one round trip each on their own connection: keep a few per thread going
    this.smallCallsInFlight = Math.max(16, ctx.threads * 4);
    const agent = { keepAlive: true, maxSockets: this.smallCallsInFlight };
    this.client = new S3Client({
      ...(config.region ? { region: config.region } : {}),
      ...(config.endpoint ? { endpoint: config.endpoint, forcePathStyle: true } : {}),
      ...(config.credentials ? { credentials: config.credentials } : {}),
      maxAttempts: 1,
      // most servers other than AWS mishandle the newer default checksum trailers
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: new http.Agent(agent),
        httpsAgent: new https.Agent({ ...agent, ...(config.caFile ? { ca: [...tls.rootCertificates, readFileSync(config.caFile)] } : {}) }),
        connectionTimeout: 15_000,
        // a request silent for two minutes fails (TRANSIENT) instead of hanging the backup
        requestTimeout: 120_000,
        throwOnRequestTimeout: true,
      },
    });
  }

  private key(p: string): string {
    return `${this.config.prefix}${p}`;
  }

  /** Sends one request through the throttle gate; failures come back as DbkError. */
  private async send<T>(what: string, path: string, call: (client: S3Client) => Promise<T>): Promise<T> {
    await this.gate.ready();
    try {
      const out = await call(this.client);
      this.throttledInARow = 0;
      return out;
    } catch (e) {
      if (isThrottling(e)) this.gate.pause(parseRetryAfter(retryAfterOf(e)) ?? backoffMs(++this.throttledInARow));
      throw toDbkError(e, what, path, this.location);
    }
  }

  async list(dir: string): Promise<Entry[]> {
    const entries: Entry[] = [];
    await this.listFolder(dir, (page) => entries.push(...page.files, ...page.folders.map((name) => ({ name, size: 0, dir: true }))));
    return entries;
  }

  listTree(dir: string, options: ListTreeOptions, found: FoundFiles): Promise<void> {
    return listFoldersInParallel(dir, options, found, (folder, page) => this.listFolder(folder, page, options.signal));
  }

  /** Lists one folder a page at a time: its files (no markers, no temporary names) and its sub-folders' names. */
  private async listFolder(dir: string, page: (p: { files: Entry[]; folders: string[] }) => void, signal?: AbortSignal): Promise<void> {
    const prefix = dir === '' ? this.config.prefix : `${this.key(dir)}/`;
    let token: string | undefined;
    do {
      signal?.throwIfAborted();
      const out = await this.send(`list ${dir}`, dir, (c) =>
        c.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) })),
      );
      const files: Entry[] = [];
      for (const o of out.Contents ?? []) {
        const name = (o.Key ?? '').slice(prefix.length);
        if (name !== '' && !isTempName(name)) files.push({ name, size: o.Size ?? 0, dir: false });
      }
      const folders = (out.CommonPrefixes ?? []).map((c) => (c.Prefix ?? '').slice(prefix.length, -1)).filter((n) => n !== '');
      page({ files, folders });
      if (out.IsTruncated && !out.NextContinuationToken) {
        // a server answering a V2 listing in V1's words: going on would miss keys, and a listing
        // that misses revisions or chunks is worse than none
        throw new DbkError('PERMANENT', `${this.location}: list ${dir}: the server says there is more but gives no continuation token`, {
          hint: 'the server does not speak ListObjectsV2 fully; please report which server this is',
        });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async read(p: string): Promise<Buffer> {
    const out = await this.send(`read ${p}`, p, (c) => c.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(p) })));
    if (!out.Body) throw notFound(p);
    const bytes = await out.Body.transformToByteArray().catch((e: unknown) => {
      throw toDbkError(e, `read ${p}`, p, this.location);
    });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async write(p: string, data: Uint8Array): Promise<void> {
    if (!this.config.conditionalWrites && (await this.head(p))) throw alreadyExists(p);
    await this.send(`write ${p}`, p, (c) =>
      c.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(p),
          Body: data,
          ContentLength: data.byteLength,
          ...(this.config.conditionalWrites ? { IfNoneMatch: '*' } : {}),
          ...(this.config.storageClass ? { StorageClass: this.config.storageClass as StorageClass } : {}),
        }),
      ),
    );
  }

  async rename(from: string, to: string): Promise<void> {
    await this.copy(from, to);
    await this.delete(from);
  }

  async copy(from: string, to: string): Promise<void> {
    // the HEAD is for servers that ignore If-None-Match on a copy (AWS honours it; moto does not)
    if (await this.head(to)) throw alreadyExists(to);
    await this.send(`copy ${from}`, from, (c) =>
      c.send(
        new CopyObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(to),
          CopySource: `${this.config.bucket}/${this.key(from).split('/').map(encodeURIComponent).join('/')}`,
          ...(this.config.conditionalWrites ? { IfNoneMatch: '*' } : {}),
          ...(this.config.storageClass ? { StorageClass: this.config.storageClass as StorageClass } : {}),
        }),
      ),
    );
  }

  async delete(p: string): Promise<void> {
    // S3 answers a delete of a missing key with success already
    await this.send(`delete ${p}`, p, (c) => c.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(p) })));
  }

  async stat(p: string): Promise<Entry | undefined> {
    const size = await this.head(p);
    if (size !== undefined) return { name: baseName(p), size, dir: false };
    // not an object: a folder when some key lies below it (engine code stats files only, so this
    // second request is paid by misses in tests and tools)
    const out = await this.send(`stat ${p}`, p, (c) => c.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: `${this.key(p)}/`, MaxKeys: 1 })));
    return (out.KeyCount ?? out.Contents?.length ?? 0) > 0 ? { name: baseName(p), size: 0, dir: true } : undefined;
  }

  /** The size of object `p`, or undefined when there is none. */
  private async head(p: string): Promise<number | undefined> {
    try {
      const out = await this.send(`stat ${p}`, p, (c) => c.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(p) })));
      return out.ContentLength ?? 0;
    } catch (e) {
      if (isDbkError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  async mkdir(p: string): Promise<void> {
    if (p === '') return;
    await this.send(`mkdir ${p}`, p, (c) => c.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: `${this.key(p)}/`, Body: new Uint8Array(0), ContentLength: 0 })));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
