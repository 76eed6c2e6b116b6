import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the fault suite (test/chaos/*.chaos.ts: not picked up by `npm test`), one file at a time, minutes long. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
