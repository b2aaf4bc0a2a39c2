// A seeded slice of the fuzzer (npm run fuzz runs 100,000 cases a decoder): every decoder of what
// dbk reads from a storage or its cache, fed damaged and hostile inputs, returns or throws a
// DbkError, never anything else, and no case takes long.

import { describe, expect, it } from 'vitest';
import { runFuzz } from '../fuzz/run.js';

describe('fuzzed decoders', () => {
  it('only ever throw DbkError, each case within a second and a half', async () => {
    const r = await runFuzz({ cases: 2000, seed: 11 });
    expect(r.targets.map((t) => t.name)).toEqual(['object envelope', 'config', 'revision', 'file list', 'fossil record', 'announcement', 'chunk-list cache', 'metadata sequences']);
    for (const t of r.targets) {
      expect(t.escapes, t.name).toEqual([]);
      expect(t.decoded, `${t.name}: the valid inputs decode`).toBeGreaterThan(0);
      expect(t.slowestMs, t.name).toBeLessThan(1500);
    }
  }, 600_000);
});
