import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'connectors/**/*.test.ts', 'test/**/*.test.ts'],
    // The chaos suite and the package test have their own configs (vitest.chaos.config.ts,
    // `npm run test:chaos`; vitest.package.config.ts, `npm run test:package`).
    exclude: [...configDefaults.exclude, 'test/chaos/**', 'test/package/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: keep workers low so Redis/PostgreSQL tests are not starved.
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
