import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createSql, type Sql } from '@alphadome/tenant-core';

/**
 * Test databases: the global setup migrates one template database per test run; every test
 * file clones it (`create database … template …`, a file copy, ~100 ms) so each file starts
 * from a clean, migrated schema and files can run in parallel.
 */
export const TEST_KEYRING_SPEC = `test1:${Buffer.alloc(32, 7).toString('base64')},test0:${Buffer.alloc(32, 3).toString('base64')}`;

export function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      'DATABASE_URL is not set: the tests need a real Postgres (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres); .ci/run sets it',
    );
  }
  return url;
}

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: the tests need a real Redis (e.g. REDIS_URL=redis://127.0.0.1:6379); .ci/run sets it');
  return url;
}

export function databaseUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

export const templateDatabaseName = (): string => process.env.ALPHADOME_TEST_TEMPLATE_DB ?? 'alphadome_test_template';

export interface TestDatabase {
  name: string;
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** A fresh database: migrated (a clone of the template) unless `empty` is asked. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `adt_${process.env.ALPHADOME_TEST_RUN ?? process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(async (admin) => {
    if (opts.empty) await admin.unsafe(`create database ${name}`);
    else {
      // cloning needs the template to have no other sessions; tolerate a brief race between files
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.unsafe(`create database ${name} template ${templateDatabaseName()}`);
          break;
        } catch (err) {
          if (attempt >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        }
      }
    }
  });
  const url = databaseUrl(name);
  const sql = createSql({ url, max: 5, name: 'alphadome-test' });
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await withAdmin((admin) => admin.unsafe(`drop database if exists ${name} with (force)`));
    },
  };
}
