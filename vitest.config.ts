import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is one file fewer than the cores: on the 2-core CI machine, one file at a
    // time. Most files wait on child processes and servers, so two at once halve the wall time
    // (657 s to 367 s there)
    maxWorkers: Math.max(2, availableParallelism()),
    coverage: {
      provider: 'v8',
      include: ['src/**', 'backends/**', 'cache/**'],
      reporter: ['text-summary', 'text'],
    },
  },
});
