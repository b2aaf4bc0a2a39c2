// A short seeded slice of the torture harness (npm run torture), so that a change that loses a
// chunk fails the build: real dbk processes backing up, killed, held across prunes, pruning in
// every mode, with injected storage faults and clocks hours apart, on a local storage and over
// SFTP. The README's figures come from long runs of the same harness.

import { describe, expect, it } from 'vitest';
import { sshdUnavailable } from '../support/sshd.js';
import { runTorture } from '../torture/run.js';

describe('torture, a short seeded slice', () => {
  it('local storage: no chunk lost, and nothing else wrong', async () => {
    const r = await runTorture({ trials: 3, seed: 1, steps: 8, storage: 'local' });
    expect(r.failures).toEqual([]);
    expect([...r.lost]).toEqual([]);
    expect(r.steps).toBe(24);
    expect(r.kills).toBeGreaterThan(0);
    expect(r.holds).toBeGreaterThan(0);
    expect(r.restored).toBeGreaterThan(0);
  }, 600_000);

  it.skipIf(sshdUnavailable())(
    'SFTP storage: no chunk lost, and nothing else wrong',
    async () => {
      const r = await runTorture({ trials: 3, seed: 101, steps: 6, storage: 'sftp' });
      expect(r.failures).toEqual([]);
      expect([...r.lost]).toEqual([]);
      expect(r.kills).toBeGreaterThan(0);
    },
    600_000,
  );
});
