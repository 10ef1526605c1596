import { defineConfig } from 'vitest/config';

/**
 * The chaos suite (`npm run test:chaos`, `.ci/run`): real hub processes, a private Redis, both
 * emulators, crashes. One file at a time (the hub processes of one scenario already use both
 * cores); `npm test` leaves these files out (see vitest.config.ts).
 */
/**
 * Scenarios that still fail now and then, left out of `npm run test:chaos` and CI and run alone
 * by `npm run test:chaos:open` while an issue about them is open. None today.
 */
const OPEN: string[] = [];
const openOnly = process.env['CONCORD_CHAOS_OPEN'] === '1';

export default defineConfig({
  test: {
    include: openOnly ? OPEN : ['test/chaos/**/*.test.ts'],
    exclude: openOnly ? [] : OPEN,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    fileParallelism: false,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
