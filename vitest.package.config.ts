import { defineConfig } from 'vitest/config';

/**
 * The package test (`npm run test:package`, `.ci/run`): builds and packs Concord, installs the
 * tarball in an empty folder and runs the installed `concord`. Slow (a build and an install,
 * about a minute on an idle 2-core machine), so `npm test` leaves it out (see vitest.config.ts).
 */
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
  },
});
