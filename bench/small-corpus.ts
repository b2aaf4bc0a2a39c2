// The `small` corpus as the benchmarks that run dbk over a network share it (bench/sftp.ts,
// bench/s3.ts): made once under WORK/corpus, and the bytes of a tree of files.

import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mustExec } from './child-process.js';

const MAKE_CORPUS = fileURLToPath(new URL('./make-corpus.js', import.meta.url));

/** make-corpus writes file by file: a marker beside the corpus says it finished (as in bench/core.sh). */
export async function smallCorpus(o: { work: string; scale: string }): Promise<string> {
  const dir = path.join(o.work, 'corpus', `small-${o.scale}`);
  if (!existsSync(`${dir}.done`)) {
    console.error(`making the small corpus (scale ${o.scale}) in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    await mustExec(process.execPath, [MAKE_CORPUS, 'small', dir, '--scale', o.scale]);
    writeFileSync(`${dir}.done`, '');
  }
  return dir;
}

/** Bytes in the files below `dir` (du would add folder sizes, which vary with the files that came and went). */
export async function fileBytes(dir: string): Promise<number> {
  const sizes = await mustExec('find', [dir, '-type', 'f', '-printf', '%s\\n']);
  return sizes.split('\n').reduce((sum, line) => sum + Number(line), 0);
}
