import { defineConfig } from 'vitest/config';

/**
 * The chaos suite (`npm run test:chaos`, `.ci/run`): real hub processes, a private Redis, both
 * emulators, crashes. One file at a time (the hub processes of one scenario already use both
 * cores); `npm test` leaves these files out (see vitest.config.ts).
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    fileParallelism: false,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
