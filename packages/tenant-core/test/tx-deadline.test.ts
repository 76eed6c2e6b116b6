import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { createSql, withOperator, withTenant, withTenantPipelined, type Sql } from '../src/db.ts';

/**
 * createSql's txDeadlineMs: a transaction of the message path that gets no answer (here a
 * statement that sleeps; in production a query on a connection the server cut, which
 * postgres.js can leave unsettled) is given up with a clear error, so its job fails and is
 * retried instead of holding its lock forever. A pool without the option waits as long as it
 * takes (catalog import).
 */
let db: TestDatabase;
let limited: Sql;
let unlimited: Sql;
let tenant: string;

beforeAll(async () => {
  db = await createTestDatabase();
  limited = createSql({ url: db.url, max: 4, txDeadlineMs: 300 });
  unlimited = createSql({ url: db.url, max: 4 });
  tenant = (await db.sql<{ id: string }[]>`insert into alphadome.bot_tenants (client_name, slug, whatsapp_phone_number_id) values ('dl', 'dl', '700000000091') returning id`)[0]!.id;
});

afterAll(async () => {
  await limited?.end({ timeout: 1 });
  await unlimited?.end({ timeout: 1 });
  await db?.drop();
});

describe('transaction deadline', () => {
  it('gives up withTenant, withTenantPipelined and withOperator after the deadline, naming the cause', async () => {
    const t0 = Date.now();
    await expect(withTenant(limited, tenant, (tx) => tx`select pg_sleep(2)`)).rejects.toThrow(/no answer from the database within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(1500);
    await expect(withTenantPipelined(limited, tenant, async (tx) => tx`select pg_sleep(2)`)).rejects.toThrow(/within 300 ms/);
    await expect(withOperator(limited, (tx) => tx`select pg_sleep(2)`)).rejects.toThrow(/within 300 ms/);
  });

  it('leaves quick transactions alone and the pool usable afterwards', async () => {
    await new Promise((r) => setTimeout(r, 2200)); // the abandoned sleeps finish
    const [row] = await withTenant(limited, tenant, (tx) => tx<{ t: string }[]>`select current_setting('app.tenant_id', true) as t`);
    expect(row!.t).toBe(tenant);
    const piped = await withTenantPipelined(limited, tenant, async (tx, commit) => {
      const q = tx<{ n: number }[]>`select 1 as n`.execute();
      commit();
      return q;
    });
    expect(piped[0]!.n).toBe(1);
  });

  it('a pool without a deadline waits for a slow transaction', async () => {
    const [row] = await withTenant(unlimited, tenant, (tx) => tx<{ ok: boolean }[]>`select true as ok from pg_sleep(0.6)`);
    expect(row!.ok).toBe(true);
  });
});
