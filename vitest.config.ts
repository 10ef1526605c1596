import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'connectors/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: keep workers low so Redis/PostgreSQL tests are not starved.
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
