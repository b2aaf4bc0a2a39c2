// Registers odb:// with the storage registry (imported for its side effect by backends/schemes.ts).

import { registerScheme } from '../registry.js';
import { odbConfig } from './config.js';
import { OneDriveBackend } from './onedrive.js';

registerScheme('odb', async (url, ctx) => new OneDriveBackend(odbConfig(url, ctx.settings, ctx.repoDir), ctx));
