import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { createSql, routePhoneNumber, withOperator, withTenant, type Sql } from '../src/db.ts';
import { getSecret, Keyring, putSecret } from '../src/secrets.ts';
import {
  describeTables,
  fixtureValues,
  inDependencyOrder,
  insertRow,
  quoteIdent,
  tablesWithTenantId,
  type Row,
  type TableInfo,
} from './support/tenant-tables.ts';

/**
 * "No tenant can ever see or touch another's data", proven against the database itself: two
 * tenants with a row in every tenant-owned table (found in the catalog, so a table added later
 * is covered without being listed here), and the application role trying to cross over.
 */

const expectedTenantTables = [
  'bot_tenants',
  'bot_tenant_secrets',
  'bot_control_settings',
  'bot_templates',
  'bot_training_data',
  'bot_contacts',
  'bot_conversations',
  'bot_message_logs',
  'bot_usage_daily',
  'bot_audit_log',
];

/** Tables with a tenant_id that are not tenant rows, and why. Each is checked to be out of the app role's reach. */
const notTenantOwned: Record<string, string> = {
  dashboard_users: 'dashboard accounts: an operator belongs to no tenant; reachable by alphadome_operator only',
};

/** Values the generic fixture cannot guess (CHECK constraints). */
const overrides: Record<string, Row> = {
  bot_budget_events: { kind: 'alert_80' },
};

const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);

interface TenantFixture {
  id: string;
  slug: string;
  phoneNumberId: string;
  token: string;
  rows: Map<string, Row>;
}

let db: TestDatabase;
let sql: Sql;
let tenantTables: string[];
let infos: Map<string, TableInfo>;
let A: TenantFixture;
let B: TenantFixture;

async function makeTenant(tag: string): Promise<TenantFixture> {
  const id = randomUUID();
  const phoneNumberId = `1065${randomBytes(5).readUIntBE(0, 5)}`;
  const token = `EAA-${tag}-${randomBytes(12).toString('hex')}`;
  const rows = new Map<string, Row>();
  await withTenant(sql, id, async (tx) => {
    rows.set(
      'bot_tenants',
      await insertRow(tx, 'bot_tenants', {
        id,
        slug: `tenant-${tag}-${id.slice(0, 8)}`,
        client_name: `Tenant ${tag}`,
        whatsapp_phone_number_id: phoneNumberId,
      }),
    );
    for (const table of inDependencyOrder(infos)) {
      if (table.name === 'bot_tenants') continue;
      if (table.name === 'bot_tenant_secrets') {
        await putSecret(tx, keyring, id, 'whatsapp_token', token);
        const [row] = await tx<Row[]>`select * from alphadome.bot_tenant_secrets where tenant_id = ${id}`;
        rows.set(table.name, row!);
        continue;
      }
      const values = fixtureValues(tx, table, tag, rows, overrides);
      try {
        rows.set(table.name, await insertRow(tx, table.name, values));
      } catch (err) {
        throw new Error(
          `could not insert a fixture row into alphadome.${table.name}: ${(err as Error).message}; add an override in isolation.test.ts`,
        );
      }
    }
  });
  return { id, slug: `tenant-${tag}-${id.slice(0, 8)}`, phoneNumberId, token, rows };
}

/** Row counts per tenant seen by the login role (superuser in tests: no RLS). */
async function ownerCount(table: string, tenantId: string): Promise<number> {
  const [row] = await sql.unsafe<{ n: number }[]>(
    `select count(*)::int as n from alphadome.${quoteIdent(table)} where tenant_id = $1`,
    [tenantId],
  );
  return row!.n;
}

/** A column the app role may update (so "0 rows" is about RLS, not privileges), if any. */
async function updatableColumn(table: string): Promise<string | null> {
  const info = infos.get(table)!;
  for (const col of info.columns) {
    if (col.generated || col.name === 'tenant_id') continue;
    const [row] = await sql<{ ok: boolean }[]>`
      select has_column_privilege('alphadome_app', ${`alphadome.${quoteIdent(table)}`}, ${col.name}, 'UPDATE') as ok`;
    if (row!.ok) return col.name;
  }
  return null;
}

beforeAll(async () => {
  db = await createTestDatabase();
  sql = db.sql;
  const discovered = await tablesWithTenantId(sql);
  tenantTables = discovered.filter((t) => !(t in notTenantOwned));
  infos = await describeTables(sql, tenantTables);
  A = await makeTenant('a');
  B = await makeTenant('b');
});

afterAll(async () => {
  await db?.drop();
});

describe('tenant-owned tables', () => {
  it('are found in the catalog and include every table the design names', async () => {
    expect(tenantTables).toEqual(expect.arrayContaining(expectedTenantTables));
    // every table with a fixture row for both tenants
    for (const t of tenantTables) {
      expect(A.rows.has(t), `fixture row of A in ${t}`).toBe(true);
      expect(B.rows.has(t), `fixture row of B in ${t}`).toBe(true);
      expect(await ownerCount(t, A.id), t).toBeGreaterThan(0);
      expect(await ownerCount(t, B.id), t).toBeGreaterThan(0);
    }
  });

  it('all have RLS enabled and FORCED, and a tenant_isolation policy on app.tenant_id', async () => {
    const rows = await sql<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }[]>`
      select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c
       where c.relnamespace = 'alphadome'::regnamespace and c.relname = any(${tenantTables})`;
    expect(rows).toHaveLength(tenantTables.length);
    for (const r of rows) {
      expect(r.relrowsecurity, `${r.relname} relrowsecurity`).toBe(true);
      expect(r.relforcerowsecurity, `${r.relname} relforcerowsecurity`).toBe(true);
    }
    const policies = await sql<{ tablename: string; policyname: string; permissive: string; roles: string[]; qual: string | null; with_check: string | null }[]>`
      select tablename, policyname, permissive, roles::text[] as roles, qual, with_check from pg_policies
       where schemaname = 'alphadome' and tablename = any(${tenantTables})`;
    for (const t of tenantTables) {
      const mine = policies.filter((p) => p.tablename === t);
      const iso = mine.find((p) => p.policyname === 'tenant_isolation');
      expect(iso, `${t} has tenant_isolation`).toBeDefined();
      // the tenant setting through a scalar subquery (an InitPlan: see migration 0011)
      const initplan = /^\(tenant_id = \( SELECT \(NULLIF\(current_setting\('app\.tenant_id'::text, true\), ''::text\)\)::uuid AS "nullif"\)\)$/;
      expect(iso!.qual).toMatch(initplan);
      expect(iso!.with_check).toMatch(initplan);
      // permissive policies are OR-ed: any other one that applies to the app role would widen access
      for (const p of mine.filter((p) => p.permissive === 'PERMISSIVE' && p !== iso)) {
        const appliesToApp = p.roles.includes('public') || p.roles.includes('alphadome_app');
        expect(appliesToApp ? `${t}: permissive policy ${p.policyname} applies to alphadome_app` : null).toBeNull();
      }
    }
  });

  it('tables with a tenant_id that are not tenant rows are out of the app role reach', async () => {
    for (const t of Object.keys(notTenantOwned)) {
      const [row] = await sql<{ any: boolean; force: boolean }[]>`
        select has_table_privilege('alphadome_app', ${`alphadome.${t}`}, 'select, insert, update, delete, truncate, references') as any,
               c.relforcerowsecurity as force
          from pg_class c where c.oid = ${`alphadome.${t}`}::regclass`;
      expect(row, t).toEqual({ any: false, force: true });
    }
  });
});

describe("within tenant A's context", () => {
  it("every table shows A's rows and none of B's", async () => {
    await withTenant(sql, A.id, async (tx) => {
      for (const t of tenantTables) {
        const rows = await tx.unsafe<{ tenant_id: string }[]>(`select tenant_id from alphadome.${quoteIdent(t)}`);
        expect(rows.length, `${t}: A sees its rows`).toBeGreaterThan(0);
        expect(rows.filter((r) => r.tenant_id !== A.id), `${t}: rows of another tenant`).toEqual([]);
        const [b] = await tx.unsafe<{ n: number }[]>(`select count(*)::int as n from alphadome.${quoteIdent(t)} where tenant_id = $1`, [
          B.id,
        ]);
        expect(b!.n, t).toBe(0);
      }
    });
  });

  it("updates and deletes of B's rows affect nothing", async () => {
    const before = new Map<string, number>();
    for (const t of tenantTables) before.set(t, await ownerCount(t, B.id));
    for (const t of tenantTables) {
      const col = await updatableColumn(t);
      if (col) {
        const updated = await withTenant(sql, A.id, (tx) =>
          tx.unsafe(`update alphadome.${quoteIdent(t)} set ${quoteIdent(col)} = ${quoteIdent(col)} where tenant_id = $1`, [B.id]),
        );
        expect(updated.count, `update ${t} where tenant_id = B`).toBe(0);
        // an update without a filter reaches A's rows only
        const all = await withTenant(sql, A.id, (tx) =>
          tx.unsafe(`update alphadome.${quoteIdent(t)} set ${quoteIdent(col)} = ${quoteIdent(col)}`),
        );
        expect(all.count, `update ${t} (all rows)`).toBe(await ownerCount(t, A.id));
      } else {
        await expect(
          withTenant(sql, A.id, (tx) => tx.unsafe(`update alphadome.${quoteIdent(t)} set tenant_id = tenant_id where tenant_id = $1`, [B.id])),
          `${t} is not updatable by the app role`,
        ).rejects.toMatchObject({ code: '42501' });
      }
      const canDelete = (
        await sql<{ ok: boolean }[]>`select has_table_privilege('alphadome_app', ${`alphadome.${t}`}, 'DELETE') as ok`
      )[0]!.ok;
      if (canDelete) {
        const deleted = await withTenant(sql, A.id, (tx) =>
          tx.unsafe(`delete from alphadome.${quoteIdent(t)} where tenant_id = $1`, [B.id]),
        );
        expect(deleted.count, `delete ${t} where tenant_id = B`).toBe(0);
      } else {
        await expect(
          withTenant(sql, A.id, (tx) => tx.unsafe(`delete from alphadome.${quoteIdent(t)} where tenant_id = $1`, [B.id])),
        ).rejects.toMatchObject({ code: '42501' });
      }
    }
    for (const t of tenantTables) expect(await ownerCount(t, B.id), t).toBe(before.get(t));
  });

  it("inserting a row with B's tenant_id is refused by the policy", async () => {
    for (const t of tenantTables) {
      let values: Row;
      if (t === 'bot_tenants') {
        // tenant_id is generated from id: any id but A's is another tenant
        values = { id: randomUUID(), slug: `intruder-${randomBytes(3).toString('hex')}`, client_name: 'Intruder' };
      } else if (t === 'bot_tenant_secrets') {
        const s = keyring.seal('stolen', B.id, 'openai_key');
        values = { tenant_id: B.id, kind: 'openai_key', key_id: s.keyId, nonce: s.nonce, ciphertext: s.ciphertext, auth_tag: s.authTag };
      } else {
        values = { ...(await withTenant(sql, A.id, async (tx) => fixtureValues(tx, infos.get(t)!, 'x', A.rows, overrides))), tenant_id: B.id };
        // keep unique keys clear of A's own row so only the policy can refuse it
        for (const col of infos.get(t)!.columns) if (col.type === 'date' && col.name in values) values[col.name] = '2026-02-01';
      }
      const err = await withTenant(sql, A.id, (tx) => insertRow(tx, t, values)).then(
        () => null,
        (e: { code?: string; message: string }) => e,
      );
      expect(err, `insert into ${t} with B's tenant_id`).not.toBeNull();
      expect(err!.code, `${t}: ${err!.message}`).toBe('42501');
      expect(err!.message, t).toMatch(/row-level security|permission denied/);
    }
  });

  it('a row cannot be moved to another tenant', async () => {
    for (const t of tenantTables) {
      if (t === 'bot_tenants') continue; // tenant_id is generated from id; id is not updatable (below)
      await expect(
        withTenant(sql, A.id, (tx) => tx.unsafe(`update alphadome.${quoteIdent(t)} set tenant_id = $1`, [B.id])),
        t,
      ).rejects.toMatchObject({ code: '42501' });
    }
    await expect(
      withTenant(sql, A.id, (tx) => tx`update alphadome.bot_tenants set id = ${randomUUID()}`),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it("a row cannot point at another tenant's row through a foreign key", async () => {
    // RI checks bypass RLS: only a key that includes tenant_id keeps a reference in its tenant
    const fks = await sql<{ child: string; conname: string; col: string; parent: string; refcol: string }[]>`
      select c.relname as child, k.conname, a.attname as col, rc.relname as parent, ra.attname as refcol
        from pg_constraint k
        join pg_class c on c.oid = k.conrelid
        join pg_class rc on rc.oid = k.confrelid
        cross join lateral unnest(k.conkey, k.confkey) as u(ck, fk)
        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.ck
        join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = u.fk
       where k.contype = 'f' and c.relnamespace = 'alphadome'::regnamespace and rc.relnamespace = 'alphadome'::regnamespace
         and c.relname = any(${tenantTables}) and rc.relname = any(${tenantTables}) and a.attname <> 'tenant_id'
       order by 1, 2`;
    expect(fks.map((f) => `${f.child}.${f.col}`)).toContain('bot_conversations.contact_id');
    for (const [i, fk] of fks.entries()) {
      const target = B.rows.get(fk.parent)![fk.refcol];
      const values = await withTenant(sql, A.id, async (tx) => fixtureValues(tx, infos.get(fk.child)!, `fk${i}`, A.rows, overrides));
      values[fk.col] = target;
      const err = await withTenant(sql, A.id, (tx) => insertRow(tx, fk.child, values)).then(
        () => null,
        (e: { code?: string; message: string }) => e,
      );
      expect(
        err?.code,
        `${fk.child}.${fk.col} → ${fk.parent}.${fk.refcol} (${fk.conname}) accepted another tenant's key; ` +
          'end the migration that added it with `select alphadome.scope_tenant_foreign_keys();`',
      ).toBe('23503');
    }
  });

  it('routing columns are not the app role to change', async () => {
    for (const set of [
      `whatsapp_phone_number_id = '999999999999'`,
      `slug = 'hijacked'`,
      `own_meta_app = true`,
      `whatsapp_access_token = null`,
    ]) {
      await expect(withTenant(sql, A.id, (tx) => tx.unsafe(`update alphadome.bot_tenants set ${set}`)), set).rejects.toMatchObject({
        code: '42501',
      });
    }
  });

  it("B's secrets are invisible and A's decrypt", async () => {
    await withTenant(sql, A.id, async (tx) => {
      expect(await getSecret(tx, keyring, B.id, 'whatsapp_token')).toBeNull();
      expect(await getSecret(tx, keyring, A.id, 'whatsapp_token')).toBe(A.token);
      const rows = await tx<{ tenant_id: string }[]>`select tenant_id from alphadome.bot_tenant_secrets`;
      expect(rows.map((r) => r.tenant_id)).toEqual([A.id]);
    });
    await withTenant(sql, B.id, async (tx) => {
      expect(await getSecret(tx, keyring, B.id, 'whatsapp_token')).toBe(B.token);
    });
  });

  it('route_phone_number answers for any tenant with exactly (tenant_id, status)', async () => {
    await withTenant(sql, A.id, async (tx) => {
      const rows = await tx`select * from alphadome.route_phone_number(${B.phoneNumberId})`;
      expect(rows.columns.map((c) => c.name)).toEqual(['tenant_id', 'status']);
      expect([...rows]).toEqual([{ tenant_id: B.id, status: 'active' }]);
      expect(await routePhoneNumber(tx, B.phoneNumberId)).toEqual({ tenantId: B.id, status: 'active' });
      expect(await routePhoneNumber(tx, '000000000000')).toBeNull();
    });
  });

  it('admin functions are refused to the app role and answer the operator role', async () => {
    await expect(withTenant(sql, A.id, (tx) => tx`select * from alphadome.admin_list_tenants()`)).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/permission denied/),
    });
    await expect(
      withTenant(sql, A.id, (tx) => tx`select alphadome.admin_update_tenant_routing(${A.id}, 'hijack', null, null)`),
    ).rejects.toMatchObject({ code: '42501' });
    const listed = await withOperator(sql, (tx) => tx<{ id: string; slug: string }[]>`select id, slug from alphadome.admin_list_tenants()`);
    expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining([A.id, B.id]));
    const [cols] = await withOperator(sql, (tx) => tx`select * from alphadome.admin_list_tenants() limit 1`.then((r) => [r.columns]));
    expect(cols!.map((c) => c.name).filter((n) => /token$|secret|api_key|cipher|nonce|auth_tag|password/.test(n))).toEqual([]);
  });

  it('the operator role does not read tenant rows directly, and the app role no platform table', async () => {
    for (const t of ['bot_tenant_secrets', 'bot_tenants', 'bot_message_logs']) {
      await expect(withOperator(sql, (tx) => tx.unsafe(`select * from alphadome.${t}`)), t).rejects.toMatchObject({ code: '42501' });
    }
    for (const t of ['schema_migrations', 'dashboard_users', 'dashboard_sessions', 'platform_audit_log']) {
      await expect(withTenant(sql, A.id, (tx) => tx.unsafe(`select * from alphadome.${t}`)), t).rejects.toMatchObject({ code: '42501' });
    }
  });
});

describe('without a tenant context', () => {
  async function countsAsApp(s: Sql, tenantSetting: string | null): Promise<Record<string, number>> {
    return s.begin(async (tx) => {
      await tx`select set_config('role', 'alphadome_app', true)`;
      if (tenantSetting !== null) await tx`select set_config('app.tenant_id', ${tenantSetting}, true)`;
      const counts: Record<string, number> = {};
      for (const t of tenantTables) {
        const [r] = await tx.unsafe<{ n: number }[]>(`select count(*)::int as n from alphadome.${quoteIdent(t)}`);
        counts[t] = r!.n;
      }
      return counts;
    }) as Promise<Record<string, number>>;
  }
  const zeros = () => Object.fromEntries(tenantTables.map((t) => [t, 0]));

  it('the app role sees zero rows in every table (setting never set, then empty)', async () => {
    // a fresh connection on which app.tenant_id was never set: current_setting(…, true) is null
    const fresh = createSql({ url: db.url, max: 1 });
    try {
      const [probe] = await fresh`select current_setting('app.tenant_id', true) as v`;
      expect(probe!.v).toBeNull();
      expect(await countsAsApp(fresh, null)).toEqual(zeros());
      // after a withTenant on the same connection the transaction-local value is gone: ''
      await withTenant(fresh, A.id, async () => {});
      const [after] = await fresh`select current_setting('app.tenant_id', true) as v`;
      expect(after!.v).toBe('');
      expect(await countsAsApp(fresh, null)).toEqual(zeros());
      expect(await countsAsApp(fresh, '')).toEqual(zeros());
    } finally {
      await fresh.end();
    }
  });

  it('the app role cannot insert rows without a tenant', async () => {
    for (const t of ['bot_contacts', 'bot_templates', 'bot_audit_log']) {
      const values = await withTenant(sql, A.id, async (tx) => fixtureValues(tx, infos.get(t)!, 'none', A.rows, overrides));
      await expect(
        sql.begin(async (tx) => {
          await tx`select set_config('role', 'alphadome_app', true), set_config('app.tenant_id', '', true)`;
          await insertRow(tx, t, values);
        }),
        t,
      ).rejects.toMatchObject({ code: expect.stringMatching(/^(42501|23514|23502)$/) });
    }
  });

  it('withTenant refuses a tenant id that is not a uuid', async () => {
    await expect(withTenant(sql, `${A.id}' or true --`, async () => 1)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(withTenant(sql, '', async () => 1)).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('the application role cannot switch isolation off', () => {
  it('is neither superuser nor BYPASSRLS, is a member of no role, and owns nothing', async () => {
    const roles = await sql<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }[]>`
      select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles
       where rolname in ('alphadome_app', 'alphadome_operator') order by rolname`;
    expect(roles).toEqual([
      { rolname: 'alphadome_app', rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false },
      { rolname: 'alphadome_operator', rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false },
    ]);
    const [owned] = await sql<{ rels: number; procs: number; schemas: number; memberships: number }[]>`
      select (select count(*)::int from pg_class where relowner in (select oid from pg_roles where rolname in ('alphadome_app', 'alphadome_operator'))) as rels,
             (select count(*)::int from pg_proc where proowner in (select oid from pg_roles where rolname in ('alphadome_app', 'alphadome_operator'))) as procs,
             (select count(*)::int from pg_namespace where nspowner in (select oid from pg_roles where rolname in ('alphadome_app', 'alphadome_operator'))) as schemas,
             (select count(*)::int from pg_auth_members where member in (select oid from pg_roles where rolname in ('alphadome_app', 'alphadome_operator'))) as memberships`;
    expect(owned).toEqual({ rels: 0, procs: 0, schemas: 0, memberships: 0 });
  });

  it('cannot disable, unforce, drop or add policies, or take ownership', async () => {
    const statements = [
      'alter table alphadome.bot_tenants disable row level security',
      'alter table alphadome.bot_tenant_secrets no force row level security',
      'drop policy tenant_isolation on alphadome.bot_message_logs',
      'create policy everyone on alphadome.bot_training_data using (true)',
      'alter policy tenant_isolation on alphadome.bot_templates using (true)',
      'alter table alphadome.bot_contacts owner to alphadome_app',
      'create or replace function alphadome.route_phone_number(p text) returns table (tenant_id uuid, status text) language sql as $$ select null::uuid, null::text $$',
      'truncate alphadome.bot_message_logs',
    ];
    for (const s of statements) {
      await expect(withTenant(sql, A.id, (tx) => tx.unsafe(s)), s).rejects.toMatchObject({ code: '42501' });
    }
    // GRANT without the grant option only warns ("no privileges were granted"): check the effect
    await withTenant(sql, A.id, (tx) => tx.unsafe('grant select on alphadome.bot_tenant_secrets to public'));
    const [pub] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_class c, aclexplode(c.relacl) a
       where c.oid = 'alphadome.bot_tenant_secrets'::regclass and a.grantee = 0`;
    expect(pub!.n).toBe(0);
  });

  it('set row_security = off errors instead of reading past the policy', async () => {
    const outcome = await withTenant(sql, A.id, async (tx) => {
      await tx`set local row_security = off`;
      return tx<{ tenant_id: string }[]>`select tenant_id from alphadome.bot_tenants`;
    }).then(
      (rows) => ({ rows: rows.map((r) => r.tenant_id) }),
      (err: { code: string; message: string }) => ({ code: err.code, message: err.message }),
    );
    if ('rows' in outcome) expect(outcome.rows).toEqual([A.id]);
    else expect(outcome).toMatchObject({ code: '42501', message: expect.stringMatching(/row-level security/) });
  });

  describe('through a dedicated login role (member of alphadome_app only)', () => {
    const login = `adt_login_${randomBytes(4).toString('hex')}`;
    let appSql: Sql;

    beforeAll(async () => {
      await sql.unsafe(`create role ${login} login noinherit nosuperuser nobypassrls`);
      await sql.unsafe(`grant alphadome_app to ${login}`);
      const url = new URL(db.url);
      url.username = login;
      appSql = createSql({ url: url.toString(), max: 2 });
    });

    afterAll(async () => {
      await appSql?.end();
      await sql.unsafe(`drop role if exists ${login}`);
    });

    it('withTenant works and is isolated', async () => {
      const ids = await withTenant(appSql, A.id, (tx) => tx<{ id: string }[]>`select id from alphadome.bot_tenants`);
      expect(ids.map((r) => r.id)).toEqual([A.id]);
    });

    it('cannot leave the app role for one that escapes RLS', async () => {
      for (const s of ['set role postgres', 'set role alphadome_operator', 'set session authorization postgres', "select set_config('role', 'postgres', true)"]) {
        await expect(withTenant(appSql, A.id, (tx) => tx.unsafe(s)), s).rejects.toMatchObject({ code: '42501' });
      }
      // reset role / set role none fall back to the login role, which holds no privileges
      for (const s of ['reset role', 'set role none', "select set_config('role', 'none', true)"]) {
        await expect(
          withTenant(appSql, A.id, async (tx) => {
            await tx.unsafe(s);
            return tx.unsafe('select tenant_id from alphadome.bot_tenant_secrets');
          }),
          s,
        ).rejects.toMatchObject({ code: '42501' });
      }
    });

    it('its own transaction without withTenant reads nothing either', async () => {
      await expect(appSql`select * from alphadome.bot_tenants`).rejects.toMatchObject({ code: '42501' });
      const counts = await appSql.begin(async (tx) => {
        await tx`set local role alphadome_app`;
        return tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_message_logs`;
      });
      expect(counts[0]!.n).toBe(0);
    });
  });
});

describe('SECURITY DEFINER functions', () => {
  it('pin search_path, return no table row type and no secret-like column, and none is executable by PUBLIC', async () => {
    const fns = await sql<{ sig: string; proconfig: string[] | null; returns_row: boolean; outs: string[] | null; public_exec: boolean }[]>`
      select p.oid::regprocedure::text as sig, p.proconfig,
             exists (select 1 from pg_type t where t.oid = p.prorettype and t.typrelid <> 0) as returns_row,
             (select array_agg(n) from unnest(p.proargnames, p.proargmodes) as x(n, m) where m in ('o', 't')) as outs,
             exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public_exec
        from pg_proc p
       where p.pronamespace = 'alphadome'::regnamespace and p.prosecdef`;
    expect(fns.length).toBeGreaterThanOrEqual(6);
    for (const f of fns) {
      expect(f.proconfig?.some((c) => c.startsWith('search_path=')), `${f.sig} pins search_path`).toBe(true);
      expect(f.returns_row, `${f.sig} returns a whole table row`).toBe(false);
      expect((f.outs ?? []).filter((n) => /token$|secret|api_key|cipher|nonce|auth_tag|password/.test(n)), f.sig).toEqual([]);
      expect(f.public_exec, `${f.sig} is executable by PUBLIC`).toBe(false);
    }
  });
});
