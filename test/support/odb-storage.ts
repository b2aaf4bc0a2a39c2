// odb:// storages on a Graph emulator for tests and benchmarks: a token file issued by the
// emulator, the emulator's certificate as odb_ca_file, and the endpoints pointing at it.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { odbConfig } from '../../backends/onedrive/config.js';
import { tokenSetFrom } from '../../backends/onedrive/oauth.js';
import { OneDriveBackend, type OneDriveTuning } from '../../backends/onedrive/onedrive.js';
import { silentLogger } from '../../src/log.js';
import { makeSettings } from '../../src/settings.js';
import type { GraphEmulator } from './graph-emulator/server.js';

let tokenFiles = 0;

/** Storage keys for an odb:// storage on `emu`; files go to `dir`. `scope` 'Files.Read' makes a read-only token. */
export function odbSettings(emu: GraphEmulator, dir: string, scope = 'Files.ReadWrite offline_access'): Record<string, string> {
  const caFile = path.join(dir, 'graph-emulator.pem');
  writeFileSync(caFile, emu.certificate);
  const tokenFile = path.join(dir, `odb-token-${process.pid}-${tokenFiles++}.json`);
  writeFileSync(tokenFile, JSON.stringify(tokenSetFrom(emu.auth.issue(scope))), { mode: 0o600 });
  return { odb_token: tokenFile, odb_graph_url: emu.url, odb_auth_url: `${emu.url}/common`, odb_ca_file: caFile };
}

export interface OpenOdbOptions {
  /** storage keys on top of odbSettings() */
  settings?: Record<string, string>;
  tuning?: OneDriveTuning;
  threads?: number;
}

/** A OneDriveBackend on folder `root` of the emulator's drive (not wrapped in retries). */
export function openOdb(emu: GraphEmulator, dir: string, root: string, o: OpenOdbOptions = {}): OneDriveBackend {
  const settings = makeSettings('default', { ...odbSettings(emu, dir), ...o.settings }, {});
  return new OneDriveBackend(odbConfig(`odb://${root}`, settings, dir), { threads: o.threads ?? 8, log: silentLogger }, o.tuning);
}
