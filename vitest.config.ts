import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native worker module does not like worker threads.
    pool: 'forks',
    globalSetup: ['test/setup/global.ts'],
    include: ['test/**/*.test.ts'],
    // The resilience suite (minutes of kills and restarts) runs on its own: npm run test:resilience.
    exclude: [...configDefaults.exclude, 'test/resilience/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
