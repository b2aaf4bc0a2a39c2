// Opens sftp:// storages for the registry, which imports this module when such a URL is opened.

import { boolSetting } from '../../src/settings.js';
import type { OpenStorage } from '../backend.js';
import { sftpConfig } from './config.js';
import { SftpBackend } from './sftp.js';

export const openStorage: OpenStorage = (url, ctx) =>
  SftpBackend.open(sftpConfig(url, ctx.settings), {
    threads: ctx.threads,
    repoDir: ctx.repoDir,
    log: ctx.log,
    fsync: boolSetting(ctx.settings, 'fsync', true),
  });
