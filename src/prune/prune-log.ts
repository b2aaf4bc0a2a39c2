// The log every prune leaves in .dbk/logs/prune-<time>.log: one line per thing it changed (or, on
// a dry run, would change), appended as it happens so a prune that dies midway still says what
// it did.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DBK_DIR } from '../storage/preferences.js';

const LINES_A_PAGE = 4096;

export class PruneLog {
  readonly file: string;

  constructor(repoDir: string, now: number, dryRun: boolean) {
    const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
    this.file = path.join(repoDir, DBK_DIR, 'logs', `prune-${stamp}${dryRun ? '-dry-run' : ''}.log`);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
  }

  write(...lines: string[]): void {
    if (lines.length > 0) fs.appendFileSync(this.file, `${lines.join('\n')}\n`);
  }

  /** Appends lines as they come, a page at a time: a plan may name millions of chunks. */
  writeAll(lines: Iterable<string>): void {
    let page: string[] = [];
    for (const line of lines) {
      page.push(line);
      if (page.length === LINES_A_PAGE) {
        this.write(...page);
        page = [];
      }
    }
    this.write(...page);
  }
}
