// Opens s3://, s3+https:// and s3+http:// storages for the registry, which imports this module
// when such a URL is opened (the AWS SDK takes 0.2 s to load).

import type { OpenStorage } from '../backend.js';
import { s3Config } from './config.js';
import { S3Backend } from './s3.js';

export const openStorage: OpenStorage = async (url, ctx) => new S3Backend(s3Config(url, ctx.settings, ctx.repoDir), ctx);
