// Registers odb:// with the storage registry (imported by the registry when an odb:// URL is opened).

import { registerScheme } from '../registry.js';
import { odbConfig } from './config.js';
import { OneDriveBackend } from './onedrive.js';

registerScheme('odb', async (url, ctx) => new OneDriveBackend(odbConfig(url, ctx.settings, ctx.repoDir), ctx));
