import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores on CI: forks keep the explorer/property tests isolated without oversubscribing.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
