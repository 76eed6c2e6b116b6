import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { createSql, withTenant } from '../src/db.ts';
import { addUsage, listUsage } from '../src/repositories/usage.ts';

/**
 * Two things the message path's speed under load depends on (issue 5):
 * - migration 0011: a key lookup of a tenant the planner's statistics do not know (a new tenant,
 *   or one whose rows arrived since the last ANALYZE) uses the key's index, not a walk of the
 *   tenant's rows through its tenant_id index;
 * - migration 0012: usage counters of one tenant-day are spread over per-session shard rows and
 *   still add up exactly.
 */
let db: TestDatabase;
let OLD: string;
let NEW: string;

const mk = async (slug: string, phone: string) =>
  (await db.sql<{ id: string }[]>`insert into alphadome.bot_tenants (client_name, slug, whatsapp_phone_number_id) values (${slug}, ${slug}, ${phone}) returning id`)[0]!.id;

async function seedMessages(tenant: string, tag: string, n: number): Promise<void> {
  await db.sql`
    insert into alphadome.bot_message_logs (tenant_id, direction, wamid, idempotency_key, wa_id, message_type, body, status)
    select ${tenant}, 'inbound', ${`wamid.${tag}.`} || g, ${`in:${tag}.`} || g, '2547' || lpad((g % 500)::text, 8, '0'), 'text', 'hello', 'received'
      from generate_series(1, ${n}) g`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  OLD = await mk('plan-old', '700000000101');
  await seedMessages(OLD, 'old', 3000);
  await db.sql`analyze alphadome.bot_message_logs`;
  // arrives after the statistics were taken: the planner has never seen this tenant's rows
  NEW = await mk('plan-new', '700000000102');
  await seedMessages(NEW, 'new', 3000);
});

afterAll(async () => {
  await db?.drop();
});

type PlanNode = { 'Node Type': string; 'Index Name'?: string; Plans?: PlanNode[] };
const indexesOf = (n: PlanNode): string[] => [...(n['Index Name'] ? [n['Index Name']] : []), ...(n.Plans ?? []).flatMap(indexesOf)];

describe('row level security and the planner (migration 0011)', () => {
  it("looks a new tenant's message up by its key's index, not by scanning the tenant", async () => {
    const lookups = [
      [`select id from alphadome.bot_message_logs where wamid = 'wamid.new.77'`, 'bot_message_logs_tenant_wamid_key'],
      [`select id from alphadome.bot_message_logs where idempotency_key = 'in:new.77'`, 'bot_message_logs_tenant_idem_key'],
    ] as const;
    for (const [query, index] of lookups) {
      const [row] = await withTenant(db.sql, NEW, (tx) => tx.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(`explain (format json) ${query}`));
      // before migration 0011: ['bot_message_logs_tenant_id_idx'] (estimated 1 row for the unseen tenant)
      expect(indexesOf(row!['QUERY PLAN'][0].Plan), query).toEqual([index]);
    }
    // and the lookup finds the row (the policy still filters by tenant)
    const [hit] = await withTenant(db.sql, NEW, (tx) => tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_message_logs where wamid = 'wamid.new.77'`);
    expect(hit!.n).toBe(1);
    const [none] = await withTenant(db.sql, OLD, (tx) => tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_message_logs where wamid = 'wamid.new.77'`);
    expect(none!.n).toBe(0);
  });
});

describe('usage shards (migration 0012)', () => {
  it('concurrent sessions add to their own rows; the day still sums exactly', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const pool = createSql({ url: db.url, max: 12 });
    try {
      await Promise.all(Array.from({ length: 240 }, (_, i) => withTenant(pool, NEW, (tx) => addUsage(tx, NEW, { messages_in: 1, prompt_tokens: i % 2 }, day))));
    } finally {
      await pool.end();
    }
    const [usage] = await withTenant(db.sql, NEW, (tx) => listUsage(tx, { days: 1 }));
    expect(usage).toMatchObject({ day, messages_in: 240, prompt_tokens: 120 });
    const rows = await db.sql<{ shard: number }[]>`select shard from alphadome.bot_usage_daily where tenant_id = ${NEW} and day = ${day}`;
    expect(rows.length).toBeGreaterThan(1); // 12 sessions: at least two pids differ mod 16
    expect(rows.length).toBeLessThanOrEqual(16);
  });
});
