// SFTP channels over one or more SSH connections, and the spreading of work over them: each call
// goes to the channel with the fewest calls in flight. A connection that drops is forgotten at
// once; the next call through one of its channels reconnects. A call cut off by the drop fails
// TRANSIENT, for the retry wrapper to try again.

import type { Client, SFTPWrapper } from 'ssh2';
import { DbkError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';

/** OpenSSH allows 10 sessions per connection by default (MaxSessions); stay below it. */
export const CHANNELS_PER_CONNECTION = 4;

export interface PoolOptions {
  /** SFTP channels in all */
  channels: number;
  /** opens an authenticated connection, or throws a DbkError */
  connect: () => Promise<Client>;
  log: Logger;
  location: string;
}

export class ChannelPool {
  private readonly slots: { connection: Connection; index: number; busy: number }[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    const total = Math.max(1, options.channels);
    for (let first = 0; first < total; first += CHANNELS_PER_CONNECTION) {
      const connection = new Connection(Math.min(CHANNELS_PER_CONNECTION, total - first), options);
      for (let index = 0; index < connection.channels; index++) this.slots.push({ connection, index, busy: 0 });
    }
  }

  /** Opens the first connection alone: a wrong password or host key fails here, once, and a new host key is pinned once. */
  async open(): Promise<void> {
    await this.slots[0]?.connection.channel(0);
  }

  /** Runs `fn` on the least busy channel. Errors of a lost connection become TRANSIENT; others pass through. */
  async run<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    if (this.closed) throw new DbkError('PERMANENT', `${this.options.location}: the storage was closed`);
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    try {
      const channel = await slot.connection.channel(slot.index);
      try {
        // a request sent just as the channel ends is never answered: stop waiting when it ends
        return await Promise.race([fn(channel.sftp), channel.lost]);
      } catch (e) {
        // ssh2 fails the requests that were in flight when a channel ended with this message
        if (channel.live() && !(e instanceof Error && e.message === 'No response from server')) throw e;
        channel.lose();
        throw new DbkError('TRANSIENT', `${this.options.location}: connection lost: ${(e as Error).message}`, { cause: e });
      }
    } finally {
      slot.busy--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const connections = new Set(this.slots.map((s) => s.connection));
    for (const c of connections) c.drop();
  }
}

interface Channel {
  sftp: SFTPWrapper;
  /** false once the channel or its connection has ended: a request sent then would never be answered */
  live(): boolean;
  /** rejects when the connection ends */
  lost: Promise<never>;
  /** gives up the connection this channel belongs to (unless it was replaced already) */
  lose(): void;
}

/** One SSH connection and its SFTP channels, opened on first use and again after a drop. */
class Connection {
  private opening: Promise<Channel[]> | undefined;
  private client: Client | undefined;

  constructor(
    readonly channels: number,
    private readonly options: PoolOptions,
  ) {}

  async channel(index: number): Promise<Channel> {
    // a connection can end between being opened and being used: then open it once more
    for (let attempt = 1; ; attempt++) {
      const opening = (this.opening ??= this.open().catch((e: unknown) => {
        this.opening = undefined;
        throw e;
      }));
      const channel = (await opening)[index];
      if (!channel) throw new Error(`no SFTP channel ${index}`);
      if (channel.live()) return channel;
      if (attempt >= 2) throw new DbkError('TRANSIENT', `${this.options.location}: the connection closed as soon as it opened`);
    }
  }

  drop(): void {
    this.opening = undefined;
    this.client?.end();
    this.client = undefined;
  }

  private async open(): Promise<Channel[]> {
    const client = await this.options.connect();
    this.client = client;
    let live = true;
    let markLost: (e: Error) => void = () => {};
    const lost = new Promise<never>((_, reject) => (markLost = reject));
    lost.catch(() => {}); // nobody may be waiting
    const lose = () => {
      if (!live) return;
      live = false;
      markLost(new Error('connection closed'));
      client.end();
      if (this.client === client) {
        this.options.log.debug(`${this.options.location}: connection closed; the next call reconnects`);
        this.drop();
      }
    };
    client.on('error', (e) => this.options.log.debug(`${this.options.location}: ${e.message}`));
    client.on('close', lose);
    try {
      const sftps = await Promise.all(Array.from({ length: this.channels }, () => openSftp(client)));
      for (const sftp of sftps) {
        sftp.on('end', lose);
        sftp.on('close', lose);
      }
      return sftps.map((sftp) => ({ sftp, live: () => live, lost, lose }));
    } catch (e) {
      const wasLive = live;
      lose();
      if (!wasLive) throw new DbkError('TRANSIENT', `${this.options.location}: connection lost while opening SFTP channels`, { cause: e });
      throw new DbkError('PERMANENT', `${this.options.location}: the server refused an SFTP channel: ${(e as Error).message}`, {
        cause: e,
        hint: 'the server may not offer SFTP, or may allow fewer sessions per connection (MaxSessions) than dbk opens: try fewer -threads',
      });
    }
  }
}

function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}
