// SFTP storage over ssh2: sftp://user@host[:port]/path. Work is spread over `threads` SFTP
// channels (see pool.ts); uploads go to a temporary name in the target folder and are renamed into
// place without overwriting; SFTP status codes become the contract's typed errors, and a dropped
// connection becomes TRANSIENT so that the retry wrapper tries again over a new one. With fsync on
// (the default) each upload is flushed, and so is its folder once the name is in place (where the
// server can: OpenSSH can), as the local storage does.

import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import { DbkError, isDbkError, notFound } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Backend, Entry } from '../backend.js';
import { isTempName, tempName } from '../temp-names.js';
import type { SftpConfig } from './config.js';
import { connect } from './connect.js';
import { KnownHosts } from './known-hosts.js';
import { ChannelPool } from './pool.js';
import * as calls from './sftp-calls.js';

const { STATUS_CODE } = calls;

export interface SftpOptions {
  /** SFTP channels to open and spread work over */
  threads: number;
  /** the repository directory, whose .dbk/known_hosts pins host keys */
  repoDir: string;
  log: Logger;
  /** flush each upload to the server's disk before it becomes visible (default true) */
  fsync?: boolean;
}

/** requests kept under way on each channel by callers making many small calls (the protocol pipelines them) */
const PIPELINED_PER_CHANNEL = 8;

export class SftpBackend implements Backend {
  readonly location: string;
  readonly smallCallsInFlight: number;
  private readonly root: string;
  private readonly pool: ChannelPool;
  private fsync: boolean;
  /** folders are flushed too, until the server turns out not to allow it */
  private fsyncFolders: boolean;

  private constructor(config: SftpConfig, options: SftpOptions) {
    this.location = config.location;
    this.root = config.root;
    this.fsync = options.fsync ?? true;
    this.fsyncFolders = this.fsync;
    this.smallCallsInFlight = Math.max(1, options.threads) * PIPELINED_PER_CHANNEL;
    const knownHosts = KnownHosts.forRepo(options.repoDir);
    this.pool = new ChannelPool({
      channels: options.threads,
      connect: () => connect(config, knownHosts, options.log),
      log: options.log,
      location: config.location,
    });
  }

  /** Connects (one connection now, the others on first use), so that login and host key problems show at once. */
  static async open(config: SftpConfig, options: SftpOptions): Promise<SftpBackend> {
    const backend = new SftpBackend(config, options);
    await backend.pool.open();
    return backend;
  }

  async list(dir: string): Promise<Entry[]> {
    return this.run(dir, async (sftp) => {
      let entries: Awaited<ReturnType<typeof calls.readdir>>;
      try {
        entries = await calls.readdir(sftp, this.abs(dir));
      } catch (e) {
        if (calls.statusOf(e) === STATUS_CODE.NO_SUCH_FILE) return [];
        throw e;
      }
      const out: Entry[] = [];
      for (const { filename, attrs } of entries) {
        const kind = calls.kindOf(attrs.mode);
        if (isTempName(filename) || kind === 'other') continue;
        out.push({ name: filename, size: kind === 'dir' ? 0 : attrs.size, dir: kind === 'dir' });
      }
      return out;
    });
  }

  async read(p: string): Promise<Buffer> {
    return this.run(p, async (sftp) => {
      const handle = await calls.open(sftp, this.abs(p), 'r');
      try {
        const { size } = await calls.fstat(sftp, handle);
        return await calls.readAll(sftp, handle, size, p);
      } finally {
        // not awaited: nothing depends on it, and after a dropped connection it is never answered
        void calls.close(sftp, handle).catch(() => {});
      }
    });
  }

  async write(p: string, data: Uint8Array): Promise<void> {
    const target = this.abs(p);
    const dir = calls.parentOf(target);
    const name = target.slice(target.lastIndexOf('/') + 1);
    const tmp = join(dir, tempName(name, randomBytes(6).toString('hex')));
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.run(p, async (sftp) => {
      try {
        await this.upload(sftp, tmp, dir, bytes);
        await calls.renameNoOverwrite(sftp, tmp, target, { from: p, to: p });
        await this.syncFolders(sftp, dir);
      } catch (e) {
        // waited for only when the name was taken, so that no temporary file outlives the call;
        // after a dropped connection the request is never answered
        const removing = calls.unlink(sftp, tmp).catch(() => {});
        if (isDbkError(e, 'ALREADY_EXISTS')) await removing;
        throw e;
      }
    });
  }

  /** Writes a new file at `tmp`, creating its folder when missing, and flushes it. */
  private async upload(sftp: SFTPWrapper, tmp: string, dir: string, bytes: Buffer): Promise<void> {
    let handle: Buffer;
    try {
      handle = await calls.open(sftp, tmp, 'wx');
    } catch (e) {
      if (calls.statusOf(e) !== STATUS_CODE.NO_SUCH_FILE) throw e;
      await calls.mkdirs(sftp, dir);
      await this.syncFolders(sftp, calls.parentOf(dir), calls.parentOf(calls.parentOf(dir))); // the new folder (chunks/ab) and its parent (chunks)
      handle = await calls.open(sftp, tmp, 'wx');
    }
    try {
      await calls.writeAll(sftp, handle, bytes);
      if (this.fsync) this.fsync = await calls.fsync(sftp, handle);
    } catch (e) {
      void calls.close(sftp, handle).catch(() => {}); // not awaited: see write()
      throw e;
    }
    await calls.close(sftp, handle);
  }

  async rename(from: string, to: string): Promise<void> {
    return this.run(to, async (sftp) => {
      await calls.renameNoOverwrite(sftp, this.abs(from), this.abs(to), { from, to });
      await this.syncFolders(sftp, calls.parentOf(this.abs(to)), calls.parentOf(this.abs(from)));
    });
  }

  async delete(p: string): Promise<void> {
    return this.run(p, async (sftp) => {
      try {
        await calls.unlink(sftp, this.abs(p));
      } catch (e) {
        if (calls.statusOf(e) !== STATUS_CODE.NO_SUCH_FILE) throw e;
        return;
      }
      await this.syncFolders(sftp, calls.parentOf(this.abs(p)));
    });
  }

  private async syncFolders(sftp: SFTPWrapper, ...dirs: string[]): Promise<void> {
    for (const dir of new Set(dirs.map((d) => d || '.'))) if (this.fsyncFolders) this.fsyncFolders = await calls.syncFolder(sftp, dir);
  }

  async stat(p: string): Promise<Entry | undefined> {
    return this.run(p, async (sftp) => {
      const st = await calls.statIfExists(sftp, this.abs(p));
      if (!st) return undefined;
      const dir = calls.kindOf(st.mode) === 'dir';
      return { name: p.slice(p.lastIndexOf('/') + 1), size: dir ? 0 : st.size, dir };
    });
  }

  async mkdir(p: string): Promise<void> {
    return this.run(p, (sftp) => calls.mkdirs(sftp, this.abs(p)));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private abs(p: string): string {
    if (p === '') return this.root === '' ? '.' : this.root;
    return join(this.root, p);
  }

  /** Runs one operation on a pooled channel and gives its failure the contract's meaning. */
  private async run<T>(p: string, fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    try {
      return await this.pool.run(fn);
    } catch (e) {
      throw mapError(e, `${this.location} ${p}`, p);
    }
  }
}

const join = (dir: string, name: string) => (dir === '' ? name : dir === '/' ? `/${name}` : `${dir}/${name}`);

function mapError(e: unknown, where: string, p: string): DbkError {
  if (e instanceof DbkError) return e;
  const message = `${where}: ${(e as Error).message}`;
  switch (calls.statusOf(e)) {
    case STATUS_CODE.NO_SUCH_FILE:
      return notFound(p, e);
    case STATUS_CODE.NO_CONNECTION:
    case STATUS_CODE.CONNECTION_LOST:
      return new DbkError('TRANSIENT', message, { cause: e });
    case STATUS_CODE.PERMISSION_DENIED:
      return new DbkError('PERMANENT', message, {
        cause: e,
        hint: 'the SFTP user is not allowed to do this: check the owner and permissions of the storage folder on the server',
      });
    case STATUS_CODE.FAILURE:
      return new DbkError('PERMANENT', message, {
        cause: e,
        hint: 'SFTP servers give no reason for this failure: check for a full disk or quota on the server, or a file where a folder belongs',
      });
    default:
      return new DbkError('PERMANENT', message, { cause: e, hint: 'the SFTP server refused the request' });
  }
}
