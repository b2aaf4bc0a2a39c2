// The in-memory backend against the conformance suite.

import { MemoryBackend } from '../../backends/memory/memory.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

describeBackendConformance('memory', async () => {
  const backend = new MemoryBackend();
  return {
    backend,
    async putRaw(p, data) {
      backend.files.set(p, Buffer.from(data));
    },
  };
});
