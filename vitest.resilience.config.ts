import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native worker module does not like worker threads.
    pool: 'forks',
    globalSetup: ['test/setup/global.ts'],
    include: ['test/resilience/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
