// Include/exclude patterns from .dbk/filters: one per line, `+glob` includes, `-glob` excludes,
// `#` comments. Paths are relative, '/'-separated; folders are matched with a trailing '/'.
// The first pattern that matches decides. A path no pattern matches is included, unless every
// pattern is an include pattern (then the list says what to take, and the rest is left out).

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { usage } from '../errors.js';
import { globFromDisplay } from '../format/names.js';
import { DBK_DIR } from '../storage/preferences.js';

type Rule = { include: boolean; match: (p: string) => boolean };

export class Filters {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string): Filters {
    const rules: Rule[] = [];
    for (const [i, raw] of text.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const sign = line[0];
      if (sign !== '+' && sign !== '-') throw usage(`filters line ${i + 1}: start with + (include) or - (exclude): ${line}`);
      rules.push({ include: sign === '+', match: picomatch(globFromDisplay(line.slice(1)), { dot: true }) });
    }
    return new Filters(rules);
  }

  static load(repoDir: string): Filters {
    try {
      return Filters.parse(readFileSync(path.join(repoDir, DBK_DIR, 'filters'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Filters([]);
      throw e;
    }
  }

  /** `relPath` with a trailing '/' for folders. */
  includes(relPath: string): boolean {
    for (const r of this.rules) if (r.match(relPath)) return r.include;
    return !(this.rules.length > 0 && this.rules.every((r) => r.include)) || relPath.endsWith('/');
  }
}
