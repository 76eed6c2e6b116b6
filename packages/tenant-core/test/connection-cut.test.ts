import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';

/** Postgres (or a pooler) cutting connections must fail queries, not kill the process. */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
});
afterAll(async () => {
  await db?.drop();
});

describe('connections cut by the server', () => {
  it('reserved and pooled connections survive pg_terminate_backend', { timeout: 60_000 }, async () => {
    const script = fileURLToPath(new URL('./fixtures/cut-connections.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).not.toMatch(/Cannot read properties of null/);
    expect(code, err).toBe(0);
    const result = JSON.parse(out) as { survived: boolean; ok: number; errors: string[] };
    expect(result).toMatchObject({ survived: true, ok: 1 });
    // the cut was felt as ordinary, catchable errors
    expect(result.errors.some((e) => /CONNECTION_CLOSED|ECONNRESET|57P01|terminat/i.test(e))).toBe(true);
  });
});
