// Host keys of SFTP servers, trusted on first use and pinned in <repo>/.dbk/known_hosts, in
// OpenSSH's known_hosts line format ("[host]:port ssh-ed25519 AAAA…") so that users can read and
// edit it with tools they know. A server presenting any other key is refused.

import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';

export type HostKeyVerdict = { trusted: true; pinnedNow: boolean } | { trusted: false; pinned: string[] };

export class KnownHosts {
  constructor(readonly file: string) {}

  static forRepo(repoDir: string): KnownHosts {
    return new KnownHosts(path.join(repoDir, '.dbk', 'known_hosts'));
  }

  /** Keys pinned for a host, as "type base64". */
  pinned(host: string): string[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const [hosts, type, key] = line.trim().split(/\s+/);
      if (!hosts || hosts.startsWith('#') || !type || !key) continue;
      if (hosts.split(',').includes(host)) out.push(`${type} ${key}`);
    }
    return out;
  }

  /** Checks the key a server presented (SSH wire format); pins it when the host has none yet. */
  verify(host: string, key: Buffer): HostKeyVerdict {
    const presented = `${keyType(key)} ${key.toString('base64')}`;
    const pinned = this.pinned(host);
    if (pinned.includes(presented)) return { trusted: true, pinnedNow: false };
    if (pinned.length > 0) return { trusted: false, pinned };
    mkdirSync(path.dirname(this.file), { recursive: true });
    appendFileSync(this.file, `${host} ${presented}\n`);
    return { trusted: true, pinnedNow: true };
  }

  /** The error for a server whose key differs from the pinned one. */
  changedKeyError(host: string, key: Buffer, pinned: string[]): DbkError {
    const was = pinned
      .map((p) => {
        const [type, base64 = ''] = p.split(' ');
        return `${type} ${fingerprint(Buffer.from(base64, 'base64'))}`;
      })
      .join(', ');
    return new DbkError(
      'HOST_KEY',
      `the host key of ${host} has changed: pinned ${was}, the server presented ${keyType(key)} ${fingerprint(key)}. Someone may be intercepting the connection, or the server was reinstalled.`,
      {
        hint: `if you know the server's key was changed deliberately, delete the line for ${host} from ${this.file} and connect again to trust the new key`,
        data: { host, file: this.file },
      },
    );
  }
}

/** "[host]:port" as OpenSSH writes it, or plain host for port 22. */
export function hostId(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH-style fingerprint: SHA256:<base64 without padding>. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Key type named inside an SSH wire-format public key ("ssh-ed25519", "ssh-rsa", …). */
export function keyType(key: Buffer): string {
  const len = key.length >= 4 ? key.readUInt32BE(0) : 0;
  return len > 0 && len <= key.length - 4 ? key.toString('latin1', 4, 4 + len) : 'unknown';
}
