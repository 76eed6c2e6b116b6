import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { routePhoneNumber, withTenant, type Sql } from '../src/db.ts';
import { AppError } from '../src/errors.ts';
import { migrate, migrationsDir, type MigrationResult } from '../src/migrate.ts';
import { getSecret, Keyring } from '../src/secrets.ts';
import { quoteIdent, tablesWithTenantId } from './support/tenant-tables.ts';

/**
 * The migrations over the installation this replaces (test/fixtures/legacy-schema.sql): its
 * data stays, its plaintext credentials end up sealed (and nowhere else), and its open doors
 * (USING (true) policies, the definer function returning tokens, grants to PUBLIC) close.
 */

const KASSANGAS = '5a1c0de5-6b2f-4c39-8d0e-3f4a5b6c7d80';
const PLATFORM = '9e2d4f60-1a3b-4c5d-8e7f-a0b1c2d3e4f5';
const DUKA = 'c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b';
const DUKA_DOT = 'd4e5f607-1829-43a4-b5c6-d7e8f90a1b2c';
const GIDEON = '823c3bcd-b66f-4010-9922-4a3b411226cc';
const DEFAULT_BRAND = '1af71403-b4c3-4eac-9aab-48ee2576a9bb';
const plaintexts = {
  kassangasToken: 'EAAKassangasLegacyPlaintextToken0123456789',
  kassangasAiKey: 'sk-kassangas-legacy-plaintext-key-ABCDEF',
  platformToken: 'EAAPlatformLegacyPlaintextTokenZYXWVU98765',
};
const publicTables = ['users', 'brands', 'conversations', 'subscriptions', 'user_sessions'];
const legacyBotTables = ['bot_tenants', 'bot_templates', 'bot_training_data', 'bot_control_settings', 'bot_message_logs', 'bot_products'];

const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);

let db: TestDatabase;
let sql: Sql;
let migrationFiles: string[];
let publicBefore: Record<string, unknown[]>;
let legacyBefore: Record<string, Record<string, unknown>[]>;
let portfolioBefore: Record<string, unknown>[];
let first: MigrationResult;

async function snapshot(schema: string, table: string): Promise<Record<string, unknown>[]> {
  const rows = await sql.unsafe<{ j: Record<string, unknown> }[]>(
    `select to_jsonb(t) as j from ${quoteIdent(schema)}.${quoteIdent(table)} t order by 1::text`,
  );
  return rows.map((r) => r.j).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The shape of the database: columns, policies, functions, grants. */
async function catalogShape(): Promise<unknown> {
  const [shape] = await sql<{ cols: unknown; pols: unknown; fns: unknown; acls: unknown }[]>`
    select (select json_agg(x order by x) from (select table_schema || '.' || table_name || '.' || column_name || ':' || is_nullable as x
              from information_schema.columns where table_schema in ('public', 'alphadome')) s) as cols,
           (select json_agg(x order by x) from (select tablename || '.' || policyname as x from pg_policies
              where schemaname in ('public', 'alphadome')) s) as pols,
           (select json_agg(x order by x) from (select p.oid::regprocedure::text || coalesce(p.proacl::text, '') as x
              from pg_proc p where p.pronamespace in ('public'::regnamespace, 'alphadome'::regnamespace)) s) as fns,
           (select json_agg(x order by x) from (select c.oid::regclass::text || coalesce(c.relacl::text, '') || c.relrowsecurity::text as x
              from pg_class c where c.relnamespace in ('public'::regnamespace, 'alphadome'::regnamespace)) s) as acls`;
  return shape;
}

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  sql = db.sql;
  await sql.unsafe(await readFile(new URL('./fixtures/legacy-schema.sql', import.meta.url), 'utf8')).simple();
  migrationFiles = (await readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  publicBefore = {};
  for (const t of publicTables) publicBefore[t] = await snapshot('public', t);
  legacyBefore = {};
  for (const t of legacyBotTables) legacyBefore[t] = await snapshot('alphadome', t);
  portfolioBefore = await snapshot('alphadome', 'portfolio_projects');
});

afterAll(async () => {
  await db?.drop();
});

describe('migrating the legacy installation', () => {
  it('the fixture is the faulty legacy installation (its policies leak, its function returns tokens)', async () => {
    expect(publicBefore.users).toHaveLength(2);
    expect(legacyBefore.bot_tenants).toHaveLength(4);
    const [leak] = await sql<{ whatsapp_access_token: string }[]>`
      select whatsapp_access_token from alphadome.get_tenant_by_phone_number_id('106540352242922')`;
    expect(leak!.whatsapp_access_token).toBe(plaintexts.kassangasToken);
  });

  it('without ENCRYPTION_KEYS, migrate refuses with a one-line config error and changes nothing', async () => {
    const before = await catalogShape();
    for (const opts of [{}, { keyring: () => Keyring.fromSpec(undefined) }]) {
      const err = await migrate(sql, opts).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'config' });
      const message = (err as AppError).message;
      expect(message).toMatch(/^ENCRYPTION_KEYS: /);
      expect(message).toMatch(/plaintext/);
      expect(message).not.toMatch(/\n/);
      for (const p of Object.values(plaintexts)) expect(message).not.toContain(p);
    }
    expect(await catalogShape()).toEqual(before);
    const [ledger] = await sql`select to_regclass('alphadome.schema_migrations') as t`;
    expect(ledger!.t).toBeNull();
    expect(await snapshot('alphadome', 'bot_tenants')).toEqual(legacyBefore.bot_tenants);
  });

  it('with a keyring, applies every migration and moves the three plaintext credentials', async () => {
    first = await migrate(sql, { keyring });
    expect(first.applied).toEqual(migrationFiles);
    expect(first.skipped).toEqual([]);
    expect(first.legacySecretsMoved).toBe(3);
  });

  it('leaves the public tables, and alphadome tables that are not tenant data, exactly as they were', async () => {
    for (const t of publicTables) expect(await snapshot('public', t), `public.${t}`).toEqual(publicBefore[t]);
    expect(await snapshot('alphadome', 'portfolio_projects')).toEqual(portfolioBefore);
    expect(await tablesWithTenantId(sql)).not.toContain('portfolio_projects');
    const [gideon] = await sql`select phone from public.users where id = ${GIDEON}`;
    expect(gideon!.phone).toBe('254702245555');
    const [brand] = await sql`select is_platform_owner from public.brands where id = ${DEFAULT_BRAND}`;
    expect(brand!.is_platform_owner).toBe(true);
  });

  it('keeps every legacy bot row and column value, with tenant_id backfilled from bot_tenant_id', async () => {
    for (const t of legacyBotTables) {
      const after = new Map((await snapshot('alphadome', t)).map((r) => [r.id as string, r]));
      expect(after.size, t).toBe(legacyBefore[t]!.length);
      for (const old of legacyBefore[t]!) {
        const now = after.get(old.id as string);
        expect(now, `${t} row ${String(old.id)}`).toBeDefined();
        for (const [col, value] of Object.entries(old)) {
          if (t === 'bot_tenants' && ['whatsapp_access_token', 'ai_api_key', 'updated_at'].includes(col)) continue;
          expect(now![col], `${t}.${col} of ${String(old.id)}`).toEqual(value);
        }
        expect(now!.tenant_id, `${t}.tenant_id`).toBe(t === 'bot_tenants' ? old.id : old.bot_tenant_id);
      }
    }
    // every table keyed by bot_tenant_id is now a tenant table, whatever it is
    const keyed = await sql<{ table_name: string }[]>`
      select table_name from information_schema.columns where table_schema = 'alphadome' and column_name = 'bot_tenant_id'`;
    const tenantTables = await tablesWithTenantId(sql);
    for (const { table_name } of keyed) {
      expect(tenantTables, table_name).toContain(table_name);
      const [missing] = await sql.unsafe<{ n: number }[]>(
        `select count(*)::int as n from alphadome.${quoteIdent(table_name)} where tenant_id is distinct from bot_tenant_id`,
      );
      expect(missing!.n, table_name).toBe(0);
    }
  });

  it('derives a valid, unique slug for each legacy tenant', async () => {
    const rows = await sql<{ id: string; slug: string }[]>`select id, slug from alphadome.bot_tenants`;
    const slugs = Object.fromEntries(rows.map((r) => [r.id, r.slug]));
    expect(slugs[KASSANGAS]).toBe('kassangas-music-shop');
    expect(slugs[PLATFORM]).toBe('alphadome');
    // "Duka la Juma" and "Duka la Juma." derive the same text: the first keeps it
    expect(slugs[DUKA]).toBe('duka-la-juma');
    expect(slugs[DUKA_DOT]).toMatch(/^duka-la-juma-[a-z0-9]+$/);
    for (const s of Object.values(slugs)) expect(s).toMatch(/^[a-z0-9][a-z0-9-]{0,62}$/);
    expect(await routePhoneNumber(sql, '106540352242922')).toEqual({ tenantId: KASSANGAS, status: 'active' });
  });

  it('seals the plaintext credentials: columns cleared, secrets decrypt for their tenant, audit rows written', async () => {
    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from alphadome.bot_tenants where whatsapp_access_token is not null or ai_api_key is not null`;
    expect(left!.n).toBe(0);
    await withTenant(sql, KASSANGAS, async (tx) => {
      expect(await getSecret(tx, keyring, KASSANGAS, 'whatsapp_token')).toBe(plaintexts.kassangasToken);
      expect(await getSecret(tx, keyring, KASSANGAS, 'openai_key')).toBe(plaintexts.kassangasAiKey);
    });
    await withTenant(sql, PLATFORM, async (tx) => {
      expect(await getSecret(tx, keyring, PLATFORM, 'whatsapp_token')).toBe(plaintexts.platformToken);
      expect(await getSecret(tx, keyring, PLATFORM, 'openai_key')).toBeNull();
    });
    const secrets = await sql<{ tenant_id: string; kind: string; key_id: string }[]>`
      select tenant_id, kind, key_id from alphadome.bot_tenant_secrets order by tenant_id, kind`;
    expect(secrets).toEqual([
      { tenant_id: KASSANGAS, kind: 'openai_key', key_id: keyring.activeKeyId },
      { tenant_id: KASSANGAS, kind: 'whatsapp_token', key_id: keyring.activeKeyId },
      { tenant_id: PLATFORM, kind: 'whatsapp_token', key_id: keyring.activeKeyId },
    ]);
    const audit = await sql<{ tenant_id: string; actor: string; detail: Record<string, boolean> }[]>`
      select tenant_id, actor, detail from alphadome.bot_audit_log where action = 'secrets.legacy_encrypted' order by tenant_id`;
    expect(audit).toEqual([
      { tenant_id: KASSANGAS, actor: 'migrate', detail: { whatsapp_token: true, openai_key: true } },
      { tenant_id: PLATFORM, actor: 'migrate', detail: { whatsapp_token: true, openai_key: false } },
    ]);
    const status = await sql<{ id: string; credential_status: string }[]>`
      select id, credential_status from alphadome.bot_tenants where id in (${KASSANGAS}, ${PLATFORM}, ${DUKA}) order by id`;
    expect(Object.fromEntries(status.map((r) => [r.id, r.credential_status]))).toEqual({
      [KASSANGAS]: 'valid',
      [PLATFORM]: 'valid',
      [DUKA]: 'missing',
    });
  });

  it('leaves no plaintext credential readable anywhere in the database', async () => {
    const tables = await sql<{ t: string }[]>`
      select format('%I.%I', n.nspname, c.relname) as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'`;
    expect(tables.length).toBeGreaterThan(15);
    for (const p of Object.values(plaintexts)) {
      for (const { t } of tables) {
        const [hit] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${t} x where strpos(x::text, $1) > 0`, [p]);
        expect(hit!.n, `${p.slice(0, 8)}… found in ${t}`).toBe(0);
      }
      const [raw] = await sql<{ n: number }[]>`
        select count(*)::int as n from alphadome.bot_tenant_secrets
         where position(convert_to(${p}, 'UTF8') in ciphertext) > 0 or position(convert_to(${p}, 'UTF8') in nonce) > 0`;
      expect(raw!.n).toBe(0);
    }
  });

  it('the legacy USING (true) policies no longer grant cross-tenant reads', async () => {
    const tenantTables = await tablesWithTenantId(sql);
    const leftover = await sql<{ tablename: string; policyname: string }[]>`
      select tablename, policyname from pg_policies
       where schemaname = 'alphadome' and tablename = any(${tenantTables}) and permissive = 'PERMISSIVE'
         and policyname not in ('tenant_isolation', 'owner_maintenance', 'operator_only')`;
    expect(leftover).toEqual([]);
    const withIsolation = (await sql<{ tablename: string }[]>`
      select tablename from pg_policies where schemaname = 'alphadome' and policyname = 'tenant_isolation'`).map((r) => r.tablename);
    for (const tenant of [KASSANGAS, PLATFORM]) {
      await withTenant(sql, tenant, async (tx) => {
        for (const t of withIsolation) {
          const rows = await tx.unsafe<{ tenant_id: string }[]>(`select tenant_id from alphadome.${quoteIdent(t)}`);
          expect(rows.filter((r) => r.tenant_id !== tenant), `${t} rows of another tenant`).toEqual([]);
          const [own] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from alphadome.${quoteIdent(t)} where tenant_id = $1`, [
            tenant,
          ]);
          expect(rows.length, `${t}: ${tenant}'s own rows`).toBe(own!.n);
        }
      });
    }
    // the legacy rows of Kassangas, as its tenant sees them
    const seen = await withTenant(sql, KASSANGAS, async (tx) => ({
      templates: (await tx`select template_name from alphadome.bot_templates order by template_name`).map((r) => r.template_name),
      faq: (await tx`select question from alphadome.bot_training_data order by question`).map((r) => r.question),
      logs: (await tx`select count(*)::int as n from alphadome.bot_message_logs`)[0]!.n,
      products: (await tx`select count(*)::int as n from alphadome.bot_products`)[0]!.n,
    }));
    expect(seen).toEqual({
      templates: ['greeting', 'hours'],
      faq: ['Do you accept M-Pesa?', 'Do you deliver outside Nairobi?'],
      logs: 2,
      products: 2,
    });
  });

  it('the legacy grants to PUBLIC and the token-leaking function are closed', async () => {
    const [fn] = await sql<{ app: boolean; operator: boolean; pub: number }[]>`
      select has_function_privilege('alphadome_app', 'alphadome.get_tenant_by_phone_number_id(text)', 'EXECUTE') as app,
             has_function_privilege('alphadome_operator', 'alphadome.get_tenant_by_phone_number_id(text)', 'EXECUTE') as operator,
             (select count(*)::int from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
               where p.oid = 'alphadome.get_tenant_by_phone_number_id(text)'::regprocedure and a.grantee = 0) as pub`;
    expect(fn).toEqual({ app: false, operator: false, pub: 0 });
    await expect(
      withTenant(sql, PLATFORM, (tx) => tx`select * from alphadome.get_tenant_by_phone_number_id('106540352242922')`),
    ).rejects.toMatchObject({ code: '42501' });
    const publicGrants = await sql<{ t: string }[]>`
      select c.relname as t from pg_class c, aclexplode(c.relacl) a
       where c.relnamespace = 'alphadome'::regnamespace and a.grantee = 0
         and c.relname = any(${await tablesWithTenantId(sql)})`;
    expect(publicGrants).toEqual([]);
    // the legacy PUBLIC UPDATE no longer lets a tenant rewrite its routing
    await expect(
      withTenant(sql, KASSANGAS, (tx) => tx`update alphadome.bot_tenants set whatsapp_phone_number_id = '100000000000002'`),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('refuses plaintext credentials written into bot_tenants afterwards', async () => {
    await expect(
      sql`update alphadome.bot_tenants set whatsapp_access_token = 'EAA-new-plaintext' where id = ${KASSANGAS}`,
    ).rejects.toMatchObject({ code: '23514', message: expect.stringMatching(/plaintext credentials/) });
    await expect(
      sql`insert into alphadome.bot_tenants (client_name, slug, ai_api_key) values ('New', 'new-tenant', 'sk-plain')`,
    ).rejects.toMatchObject({ code: '23514' });
    // other updates of a migrated tenant still work
    await sql`update alphadome.bot_tenants set client_phone = '+254702245556' where id = ${KASSANGAS}`;
  });

  it('a second run is a no-op', async () => {
    const secretsBefore = await snapshot('alphadome', 'bot_tenant_secrets');
    const auditBefore = await snapshot('alphadome', 'bot_audit_log');
    const shapeBefore = await catalogShape();
    const second = await migrate(sql, { keyring });
    expect(second).toEqual({ applied: [], skipped: migrationFiles, legacySecretsMoved: 0 });
    // and it needs no keyring once nothing is left in plaintext
    expect(await migrate(sql, {})).toEqual({ applied: [], skipped: migrationFiles, legacySecretsMoved: 0 });
    expect(await snapshot('alphadome', 'bot_tenant_secrets')).toEqual(secretsBefore);
    expect(await snapshot('alphadome', 'bot_audit_log')).toEqual(auditBefore);
    expect(await catalogShape()).toEqual(shapeBefore);
    for (const t of publicTables) expect(await snapshot('public', t), `public.${t}`).toEqual(publicBefore[t]);
  });
});
