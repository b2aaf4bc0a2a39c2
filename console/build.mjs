// Bundles the web console: console/src/main.tsx (Preact, uPlot and the CSS they import) into
// dist/console/app.js and app.css, and copies console/index.html beside them. Run from the
// repository root: `node console/build.mjs` (add `--watch` to rebuild on every change).

import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const outdir = path.join(root, 'dist', 'console');

/** @type {import('esbuild').BuildOptions} */
const options = {
  entryPoints: [path.join(here, 'src', 'main.tsx')],
  outfile: path.join(outdir, 'app.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2022',
  format: 'esm',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  logLevel: 'warning',
};

mkdirSync(outdir, { recursive: true });
copyFileSync(path.join(here, 'index.html'), path.join(outdir, 'index.html'));

if (process.argv.includes('--watch')) {
  const context = await esbuild.context({ ...options, logLevel: 'info' });
  await context.watch();
} else {
  await esbuild.build(options);
}
