// The console's page and its bundle, served from the package (dist/console, built by
// console/build.mjs): no CDN. Only the files the build wrote are served, by exact name.

import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from './http.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/serve/ → dist/console/; run from the sources (tests), src/serve/ → dist/console/ */
const CONSOLE_DIR = [path.resolve(here, '../../console'), path.resolve(here, '../../dist/console')].find((d) => fs.existsSync(path.join(d, 'app.js'))) ?? path.resolve(here, '../../console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export async function serveConsoleFile(res: ServerResponse, pathname: string): Promise<void> {
  const name = pathname === '/' ? 'index.html' : pathname.slice(1);
  if (!/^[\w-]+(\.[\w-]+)*$/.test(name) || !(path.extname(name) in TYPES)) throw new HttpError(404, `no file ${pathname}`);
  const file = path.join(CONSOLE_DIR, name);
  const body = await fs.promises.readFile(file).catch(() => undefined);
  if (!body) throw new HttpError(404, name === 'index.html' ? 'the console is not built here (npm run build builds it)' : `no file ${pathname}`);
  res.writeHead(200, { 'content-type': TYPES[path.extname(name)]!, 'content-length': body.length, 'cache-control': name === 'index.html' ? 'no-store' : 'no-cache' });
  res.end(body);
}
