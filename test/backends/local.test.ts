// The local backend against the conformance suite, on a fresh temp folder per test.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
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

describe('local storage durability', () => {
  /** The folders made durable, in order, as the backend does it. */
  class Watched extends LocalBackend {
    readonly synced: string[] = [];
    protected override async syncFolder(dir: string): Promise<void> {
      this.synced.push(path.relative(this.root, dir) || '.');
      await super.syncFolder(dir);
    }
  }

  it('flushes the folder after every name it makes, moves or removes, and each new folder in its parent', async () => {
    const root = path.join(base, 'durable');
    await fs.mkdir(root);
    const b = new Watched(root);
    await b.write('chunks/ab/cd', Buffer.from('x'));
    expect(b.synced).toEqual(['chunks', '.', 'chunks/ab']); // chunks/ab in chunks/, chunks/ in the storage folder, the file in chunks/ab
    b.synced.length = 0;
    await b.rename('chunks/ab/cd', 'chunks/ab/cd.fsl');
    expect(b.synced).toEqual(['chunks/ab']);
    b.synced.length = 0;
    await b.rename('chunks/ab/cd.fsl', 'elsewhere/cd');
    expect(b.synced).toEqual(['.', 'elsewhere', 'chunks/ab']);
    b.synced.length = 0;
    await b.delete('elsewhere/cd');
    expect(b.synced).toEqual(['elsewhere']);
  });
});
