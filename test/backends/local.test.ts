// The local backend against the conformance suite, on a fresh temp folder per test.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { LocalBackend } from '../../backends/local/local.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { tempDir } from '../support/tmp.js';

const base = tempDir('dbk-local-');
let n = 0;

describeBackendConformance('local', async () => {
  const root = path.join(base, `s${n++}`);
  return {
    backend: new LocalBackend(root, { fsync: false }),
    async putRaw(p, data) {
      const file = path.join(root, ...p.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, data);
    },
    dispose: () => fs.rm(root, { recursive: true, force: true }),
  };
});
