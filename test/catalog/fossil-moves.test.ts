// Fossil moves on a storage whose rename is a copy and a delete (as on S3): a resurrection that
// meets a prune making a fossil of the same chunk in the same moment leaves the chunk a name.

import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.js';
import { LocalBackend } from '../../backends/local/local.js';
import { registerScheme } from '../../backends/registry.js';
import { fossilize, resurrect } from '../../src/catalog/fossil-moves.js';
import { alreadyExists } from '../../src/errors.js';
import { type ChunkId, chunkPath, fossilPath } from '../../src/format/ids.js';
import { Repository } from '../../src/storage/repository.js';
import { joinRepo } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

/** Calls made right after each copy this storage completes. */
const afterCopy: ((from: string, to: string) => Promise<void>)[] = [];

// a local storage whose rename is a copy and then a delete, and which says so by offering copy()
registerScheme('copyrename', async (url) => {
  const inner = new LocalBackend(url.slice('copyrename://'.length), { fsync: false });
  const copying: Backend = Object.create(inner);
  copying.copy = async (from, to) => {
    if (await inner.stat(to)) throw alreadyExists(to);
    await inner.write(to, await inner.read(from));
    await afterCopy.shift()?.(from, to);
  };
  copying.rename = async (from, to) => {
    await copying.copy!(from, to);
    await inner.delete(from);
  };
  return copying;
});

describe('fossil moves where a rename is a copy and a delete', () => {
  it('a resurrection racing a prune that makes a fossil of the same chunk anew leaves the chunk a name', async () => {
    const storage = path.join(tempDir('dbk-fossil-moves-'), 'storage');
    const repo = await joinRepo({ storageDir: `copyrename://${storage}`, encrypted: false });
    const r = await Repository.open(repo.open);
    try {
      const id = 'ab'.repeat(32) as ChunkId;
      await r.backend.write(fossilPath(id), Buffer.from('the chunk'));
      // the resurrection has copied the fossil into the chunk; a prune now makes the chunk a fossil
      // anew (it finds the old fossil beside it, replaces it, and removes the chunk's name)
      afterCopy.push(async () => expect(await fossilize(r, id)).toBe('fossil'));
      expect(await resurrect(r, id)).toBe('resurrected');
      // the prune's fresh fossil is still there for its collection to bring back
      expect((await r.backend.read(fossilPath(id))).toString()).toBe('the chunk');
      expect(await r.backend.stat(chunkPath(id))).toBeUndefined();
    } finally {
      await r.close();
    }
  });
});
