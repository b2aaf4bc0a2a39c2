// Storage URL → backend. The one place that knows which backends exist: it maps each scheme to
// the module that opens it, imported when a URL of that scheme is first opened, and nothing
// imports the registry back (each backend module only exports its `openStorage`).
//   /abs/path, file:///abs/path   local disk
//   sftp://user@host[:port]/path  SFTP (//path for an absolute path)
//   odb://path                    OneDrive through Microsoft Graph
//   s3://bucket/prefix            S3 (AWS); s3+https://host[:port]/bucket/prefix for any other S3 server
//   memory:                       in-process, for tests

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DbkError, usage } from '../src/errors.js';
import { boolSetting } from '../src/settings.js';
import type { Backend, BackendContext, OpenStorage } from './backend.js';
import { faultsFromEnvironment, withFaults } from './faults.js';
import { LocalBackend } from './local/local.js';
import { MemoryBackend } from './memory/memory.js';
import { withRetry } from './retry.js';

const openers: Record<string, OpenStorage> = {
  file: async (url, ctx) => new LocalBackend(localPath(url), { fsync: boolSetting(ctx.settings, 'fsync', true) }),
  memory: async () => new MemoryBackend(),
};

/**
 * The remote backends, each imported when a URL of its scheme is opened: their libraries (ssh2,
 * the Graph client) took 0.2 s to load, which every command on a local storage paid.
 */
const remoteModules: Record<string, () => Promise<{ openStorage: OpenStorage }>> = {
  sftp: () => import('./sftp/open.js'),
  odb: () => import('./onedrive/open.js'),
  s3: () => import('./s3/open.js'),
  's3+https': () => import('./s3/open.js'),
  's3+http': () => import('./s3/open.js'),
};

/** Puts another opener in place of a scheme's, as tests do to slow a storage down. */
export function registerScheme(scheme: string, opener: OpenStorage): void {
  openers[scheme] = opener;
}

export function schemeOf(url: string): string {
  if (url.startsWith('/') || /^[A-Za-z]:[\\/]/.test(url)) return 'file';
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!m?.[1]) throw usage(`not a storage URL: ${url} (expected /path, file:///path, sftp://user@host/path, odb://path, s3://bucket/prefix or s3+https://host/bucket/prefix)`);
  return m[1].toLowerCase();
}

function localPath(url: string): string {
  const p = url.startsWith('file:') ? fileURLToPath(url) : url;
  return path.resolve(p);
}

export async function openBackend(url: string, ctx: BackendContext): Promise<Backend> {
  const scheme = schemeOf(url);
  const open = openers[scheme] ?? (await remoteModules[scheme]?.())?.openStorage;
  if (!open) throw new DbkError('USAGE', `unsupported storage type '${scheme}:' in ${url}`);
  const backend = await open(url, ctx);
  const faults = faultsFromEnvironment(process.env.DBK_TEST_FAULTS);
  return withRetry(faults ? withFaults(backend, faults) : backend, { log: ctx.log });
}
