// Opens odb:// storages for the registry, which imports this module when such a URL is opened.

import type { OpenStorage } from '../backend.js';
import { odbConfig } from './config.js';
import { OneDriveBackend } from './onedrive.js';

export const openStorage: OpenStorage = async (url, ctx) => new OneDriveBackend(odbConfig(url, ctx.settings, ctx.repoDir), ctx);
