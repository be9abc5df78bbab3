import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Long-running reliability runs have their own command: npm run test:soak.
    exclude: ['test/soak/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers and workers; two cores are plenty for two files at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
