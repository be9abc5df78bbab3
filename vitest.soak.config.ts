import { defineConfig } from 'vitest/config';

/** `npm run test:soak`: many workers, crashes, Redis restarts and receiver outages; minutes, not seconds. */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
