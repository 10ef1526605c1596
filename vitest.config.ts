import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'connectors/**/*.test.ts', 'test/**/*.test.ts'],
    // The chaos suite has its own config (vitest.chaos.config.ts, `npm run test:chaos`).
    exclude: [...configDefaults.exclude, 'test/chaos/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: keep workers low so Redis/PostgreSQL tests are not starved.
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
