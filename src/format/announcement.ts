// A running backup's announcement, running/<name> on the storage (sealed in the object envelope,
// kind ANNOUNCEMENT). A backup writes it before it looks at any chunk and removes it once its
// revision is written; prune reads only the names to decide, and the content to tell the user
// whose backup it waits for, and to recognise one of its own machine's backups that died.
//
//   version (1) | snapshot id | host | client (string) | pid (varint) | start time (varint ms)

import { corrupt } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';

export const ANNOUNCEMENT_VERSION = 1;

/** The largest announcement file: a few names. */
export const MAX_ANNOUNCEMENT_BYTES = 4096;

export interface Announcement {
  snapshotId: string;
  /** the machine's host name, for messages */
  host: string;
  /** the repository's client id (.dbk/client-id): a backup of this client whose process is gone is dead */
  client: string;
  pid: number;
  /** milliseconds since the epoch, by the backup's clock: for messages only */
  startTime: number;
}

export function encodeAnnouncement(a: Announcement): Buffer {
  return new BinaryWriter().byte(ANNOUNCEMENT_VERSION).string(a.snapshotId).string(a.host).string(a.client).varint(a.pid).varint(a.startTime).toBuffer();
}

export function decodeAnnouncement(data: Buffer, what = 'announcement'): Announcement {
  const rd = new BinaryReader(data, what);
  const version = rd.byte();
  if (version !== ANNOUNCEMENT_VERSION) throw corrupt(what, `unsupported announcement format ${version}`);
  const a: Announcement = { snapshotId: rd.string(128), host: rd.string(255), client: rd.string(64), pid: rd.varint(), startTime: rd.varint() };
  if (!rd.done) throw corrupt(what, `${data.length - rd.pos} stray bytes at the end`);
  return a;
}
