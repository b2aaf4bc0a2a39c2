// The conformance suite once more, through injected faults under the retry wrapper, as dbk opens
// every storage: calls that fail, calls whose reply is lost after they changed the storage, and
// slow calls. Whatever the faults, the contract holds for the caller. Also the parsing of
// DBK_TEST_FAULTS, with which the torture harness switches faults on in dbk processes.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultsFromEnvironment, withFaults } from '../../backends/faults.js';
import { LocalBackend } from '../../backends/local/local.js';
import { withRetry } from '../../backends/retry.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { tempDir } from '../support/tmp.js';

const base = tempDir('dbk-faults-');
let n = 0;

describeBackendConformance('local, through injected faults and retries', async () => {
  const root = path.join(base, `s${n}`);
  const faults = { seed: ++n, error: 0.03, lost: 0.03, slow: 0.02, hang: 0 };
  return {
    backend: withRetry(withFaults(new LocalBackend(root, { fsync: false }), faults), { baseDelayMs: 1, maxDelayMs: 5, attempts: 12 }),
    async putRaw(p, data) {
      const file = path.join(root, ...p.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, data);
    },
    dispose: () => fs.rm(root, { recursive: true, force: true }),
  };
});

describe('DBK_TEST_FAULTS', () => {
  it('reads rates and a seed, and refuses what it does not know', () => {
    expect(faultsFromEnvironment(undefined)).toBeUndefined();
    expect(faultsFromEnvironment('seed=7,error=0.01,lost=0.02,slow=0.05,hang=0.001')).toEqual({ seed: 7, error: 0.01, lost: 0.02, slow: 0.05, hang: 0.001 });
    expect(() => faultsFromEnvironment('seed=7,drop=0.1')).toThrow(/not understood/);
    expect(() => faultsFromEnvironment('error=lots')).toThrow(/not understood/);
  });

  it('a lost reply leaves the change made, and the retry wrapper reports the write and the rename as done', async () => {
    const root = tempDir('dbk-faults-');
    const inner = new LocalBackend(root, { fsync: false });
    const always = withRetry(withFaults(inner, { seed: 1, error: 0, lost: 1, slow: 0, hang: 0 }), { baseDelayMs: 1, attempts: 3 });
    await always.write('a/b', Buffer.from('x'));
    expect((await inner.read('a/b')).toString()).toBe('x');
    await always.rename('a/b', 'a/c');
    expect(await inner.stat('a/b')).toBeUndefined();
    expect(await inner.stat('a/c')).toBeDefined();
    await expect(always.write('a/c', Buffer.from('other bytes'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });
});
