// Running backups announce themselves on the storage, running/<name>, so that prune knows whom it
// must wait for before it deletes a fossil. A backup writes its announcement before it looks at
// any chunk (before it even reads its previous revision) and removes it once its revision is
// written; a prune's collection records the announcements present once its fossils are made, and
// its fossils are deleted only when every one of them is gone. That covers what the classic "every
// id has a newer revision" rule cannot see: a new id's first backup, a backup that runs for days,
// an id idle for weeks, and hosts whose clocks disagree (no time is compared).
//
// A backup killed with SIGKILL cannot remove its announcement. Its own machine can tell it is
// dead (same repository, same host, its process gone), and the next backup or prune there removes
// it. Anyone may remove one by hand; a backup whose announcement has gone when it comes to write
// its revision then announces itself again and makes sure every chunk it references is there
// (bringing back fossils) before it writes, so removing one is never unsafe, only slower.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { now } from '../clock.js';
import { subKey } from '../crypto/keys.js';
import { DbkError, isDbkError } from '../errors.js';
import { type Announcement, decodeAnnouncement, encodeAnnouncement, MAX_ANNOUNCEMENT_BYTES } from '../format/announcement.js';
import type { ChunkId } from '../format/ids.js';
import { decodeObject, encodeObject, ObjectKind } from '../format/object.js';
import { DBK_DIR } from '../storage/preferences.js';
import type { Repository } from '../storage/repository.js';
import { findLostChunks } from './fossil-moves.js';

export const RUNNING_DIR = 'running';
const NAME = /^[0-9a-f]{16}$/;

export const runningPath = (name: string) => `${RUNNING_DIR}/${name}`;

/** A backup's announcement of itself, from start to finish. */
export class BackupAnnouncement {
  private constructor(
    private readonly repo: Repository,
    /** the file it is now: renew() replaces it */
    public name: string,
    private readonly content: Announcement,
  ) {}

  static async announce(repo: Repository, snapshotId: string): Promise<BackupAnnouncement> {
    const content: Announcement = { snapshotId, host: hostname(), client: clientId(repo.repoDir), pid: process.pid, startTime: now() };
    return new BackupAnnouncement(repo, await write(repo, content), content);
  }

  /** Announces the same backup anew, under a new name (the first was removed while it ran). */
  async renew(): Promise<void> {
    this.name = await write(this.repo, this.content);
  }

  /** False when a prune or a user removed it, taking this backup for dead. */
  async isStillThere(): Promise<boolean> {
    return (await this.repo.backend.stat(runningPath(this.name))) !== undefined;
  }

  /** Removes it; a failure is only logged (it then holds up prune until removed). */
  async withdraw(): Promise<void> {
    await this.repo.backend.delete(runningPath(this.name)).catch((e: unknown) => {
      this.repo.log.warn(`could not remove this backup's announcement ${runningPath(this.name)}: ${(e as Error).message}; prune waits for it until it is removed`);
    });
  }
}

async function write(repo: Repository, content: Announcement): Promise<string> {
  const name = randomBytes(8).toString('hex');
  await repo.backend.write(runningPath(name), encodeObject(encodeAnnouncement(content), { kind: ObjectKind.ANNOUNCEMENT, compressionLevel: 0, ...announcementKey(repo) }));
  return name;
}

/** An announcement on the storage, as prune reports it. */
export interface RunningBackup {
  name: string;
  /** undefined when it cannot be read (it still counts) */
  announcement?: Announcement;
}

/** Every announcement on the storage. */
export async function listRunningBackups(repo: Repository): Promise<string[]> {
  const entries = await repo.backend.list(RUNNING_DIR);
  return entries
    .filter((e) => !e.dir && NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * The running backups, after removing (unless told not to: a dry run) those of this machine's
 * repository whose process has gone (killed, or the machine restarted): nobody else could ever
 * tell they are dead.
 */
export async function runningBackups(repo: Repository, o: { removeDead: boolean } = { removeDead: true }): Promise<RunningBackup[]> {
  const out: RunningBackup[] = [];
  for (const name of await listRunningBackups(repo)) {
    const announcement = await readAnnouncement(repo, name);
    if (o.removeDead && announcement && isDeadHere(announcement, clientId(repo.repoDir))) {
      repo.log.info(`removing ${runningPath(name)}: a backup of '${announcement.snapshotId}' by process ${announcement.pid} of this repository, which is gone`);
      await repo.backend.delete(runningPath(name));
      continue;
    }
    out.push({ name, ...(announcement ? { announcement } : {}) });
  }
  return out;
}

async function readAnnouncement(repo: Repository, name: string): Promise<Announcement | undefined> {
  const p = runningPath(name);
  try {
    return decodeAnnouncement(decodeObject(await repo.backend.read(p), { kind: ObjectKind.ANNOUNCEMENT, maxLength: MAX_ANNOUNCEMENT_BYTES, what: p, ...announcementKey(repo) }), p);
  } catch (e) {
    if (isDbkError(e, 'NOT_FOUND')) return undefined; // finished meanwhile
    if (!isDbkError(e, 'CORRUPT')) throw e;
    repo.log.warn(`${e.message}: counted as a running backup until it is removed`);
    return undefined;
  }
}

function isDeadHere(a: Announcement, client: string): boolean {
  return a.client === client && a.host === hostname() && a.pid !== process.pid && !processExists(a.pid);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process
  }
}

/** One line about a running backup, for prune's plan and warnings. */
export function describeRunning(r: RunningBackup): string {
  const a = r.announcement;
  if (!a) return `${runningPath(r.name)} (unreadable)`;
  return `${runningPath(r.name)} (backup of '${a.snapshotId}' on ${a.host}, process ${a.pid}, started ${new Date(a.startTime).toISOString()})`;
}

function announcementKey(repo: Repository): { key?: Uint8Array } {
  const k = repo.config.keys.encryptionKey;
  return k ? { key: subKey(k, 'announcement') } : {};
}

/**
 * This repository's client id, made on first use: it tells this repository's backups from those
 * of another one on the same host, whose processes this one cannot judge.
 */
export function clientId(repoDir: string): string {
  const file = path.join(repoDir, DBK_DIR, 'client-id');
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  } catch {
    // made below
  }
  // written whole under another name and linked into place: a second process sees all of it or none
  const id = randomBytes(16).toString('hex');
  const temporary = `${file}.${id}`;
  fs.writeFileSync(temporary, `${id}\n`);
  try {
    fs.linkSync(temporary, file);
    return id;
  } catch {
    return fs.readFileSync(file, 'utf8').trim(); // another process made it first
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

/**
 * Called with every chunk a revision will reference, just before it is written. Normally the
 * announcement is still there and nothing needs doing. If it has gone (a prune or a user took
 * this backup or copy for dead while it was held), prunes may have made fossils of its chunks,
 * even deleted some: announce again, then find every chunk, bringing back fossils, and refuse to
 * write the revision if any is gone. True when it announced again: whatever the caller learnt of
 * the storage before that (a listing) no longer protects anything.
 */
export async function makeSureOfChunks(repo: Repository, announcement: BackupAnnouncement, ids: readonly ChunkId[], what = 'this backup'): Promise<boolean> {
  if (await announcement.isStillThere()) return false;
  repo.log.warn(`${what}'s announcement ${runningPath(announcement.name)} was removed while it ran: making sure every chunk it references is on the storage`);
  await announcement.renew(); // withdrawn, as the first would have been, once the revision is written
  const lost = await findLostChunks(repo, new Set(ids));
  if (lost.length > 0) {
    throw new DbkError('CONFLICT', `${lost.length} chunks ${what} uploaded were deleted by a prune while it was held (its announcement had been removed); no revision was written`, {
      hint: 'run it again: it uploads them anew',
    });
  }
  return true;
}
