// Lets the simulators' own tests run without the root config's database/redis global setup:
// `npx vitest run --root packages/testkit`. (The root config still runs them under `npm test`.)
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 10_000,
  },
});
