import { defineConfig } from 'vitest/config';

// Lets `npx vitest run --root packages/whatsapp` run this package alone: without it vitest
// would pick up the monorepo config, whose include globs and global setup (Postgres/Redis)
// are relative to the repository root. This package needs no services.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
