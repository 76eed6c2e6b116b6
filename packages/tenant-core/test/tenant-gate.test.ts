import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { createSql, tenantGateOf, withTenant, withTenantPipelined, type Sql } from '../src/db.ts';

/**
 * createSql's tenantShare (tenant-gate.ts): one tenant's transactions hold at most that many of
 * the pool's connections, so another tenant's transaction does not queue behind its burst.
 */
let db: TestDatabase;
let pool: Sql;
let A: string;
let B: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const mk = async (slug: string, phone: string) =>
    (await db.sql<{ id: string }[]>`insert into alphadome.bot_tenants (client_name, slug, whatsapp_phone_number_id) values (${slug}, ${slug}, ${phone}) returning id`)[0]!.id;
  A = await mk('gate-a', '700000000201');
  B = await mk('gate-b', '700000000202');
  pool = createSql({ url: db.url, max: 3, tenantShare: 2, tenantShareMaxWaitMs: 300 });
});

afterAll(async () => {
  await pool?.end({ timeout: 5 });
  await db?.drop();
});

const sleepTx = (tenant: string, s: number, pipelined = false) =>
  pipelined
    ? withTenantPipelined(pool, tenant, (tx, commit) => {
        const q = tx`select pg_sleep(${s})`.execute();
        commit();
        return q;
      })
    : withTenant(pool, tenant, (tx) => tx`select pg_sleep(${s})`);

describe('tenant share of a pool', () => {
  it("a tenant's burst holds at most its share; another tenant gets a connection at once", async () => {
    const gate = tenantGateOf(pool)!;
    expect(gate.limit).toBe(2);
    const started = Date.now();
    let maxA = 0;
    const watch = setInterval(() => (maxA = Math.max(maxA, gate.inUse(A))), 5);
    const burst = Promise.all(Array.from({ length: 6 }, (_, i) => sleepTx(A, 0.3, i % 2 === 1)));
    await new Promise((r) => setTimeout(r, 50));
    // without the share, A's six transactions would hold all three connections for 0.6 s
    await withTenant(pool, B, (tx) => tx`select 1`);
    const bTook = Date.now() - started;
    await burst;
    clearInterval(watch);
    const burstTook = Date.now() - started;
    expect(bTook).toBeLessThan(250);
    expect(maxA).toBe(2);
    expect(burstTook).toBeGreaterThanOrEqual(850); // 6 × 0.3 s, two at a time
    expect(gate.waits).toBeGreaterThanOrEqual(4);
    expect(gate.inUse(A)).toBe(0);
  });

  it('transactions inside others of the same tenant, with the share full of the outer ones, go ahead after the bounded wait (no deadlock)', async () => {
    const gate = tenantGateOf(pool)!;
    const overflows = gate.overflows;
    const started = Date.now();
    // two outer transactions hold the whole share (2) and each waits for an inner one
    const outer = (n: number) =>
      withTenant(pool, A, async () => (await withTenant(pool, A, (tx) => tx<{ n: number }[]>`select ${n}::int as n`))[0]!.n);
    await expect(Promise.all([outer(1), outer(2)])).resolves.toEqual([1, 2]);
    expect(gate.overflows - overflows).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280); // the 300 ms bound
    expect(gate.inUse(A)).toBe(0);
  });

  it('a failed transaction gives its share back', async () => {
    const gate = tenantGateOf(pool)!;
    await expect(withTenant(pool, A, (tx) => tx`select 1/0`)).rejects.toMatchObject({ code: '22012' });
    await expect(withTenantPipelined(pool, A, (tx, commit) => {
      const q = tx`select 1/0`.execute();
      commit();
      return q;
    })).rejects.toMatchObject({ code: '22012' });
    expect(gate.inUse(A)).toBe(0);
  });
});
