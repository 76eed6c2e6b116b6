import postgres from 'postgres';
import { AppError } from './errors.ts';

export type Sql = postgres.Sql<Record<string, never>>;
export type Tx = postgres.TransactionSql<Record<string, never>>;

export interface DbOptions {
  url: string;
  /** false behind Supavisor / PgBouncer transaction pooling */
  prepare?: boolean;
  max?: number;
  /** application_name shown in pg_stat_activity */
  name?: string;
}

/** A postgres.js pool. Notices are dropped (migrations raise them on idempotent re-runs). */
export function createSql(opts: DbOptions): Sql {
  return postgres(opts.url, {
    prepare: opts.prepare ?? true,
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: opts.name ?? 'alphadome' },
  }) as Sql;
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidRe.test(value);
}

/**
 * Run `fn` in a transaction scoped to one tenant. The first statement switches to the
 * application role and sets the tenant, both transaction-local (as PostgREST does), so row
 * level security applies whatever role the connection logged in as, and nothing leaks to the
 * next user of a pooled connection.
 */
export async function withTenant<T>(sql: Sql, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!isUuid(tenantId)) throw new AppError('bad_request', 'tenant id must be a uuid');
  return sql.begin(async (tx) => {
    // Pipelined: sent now, so it is on the connection before any query of `fn` (postgres.js
    // runs a transaction's queries in order) and travels with the first of them: one round
    // trip fewer per transaction. If it fails, fn's queries fail too and postgres.js rethrows
    // this error, not theirs.
    const scoped = tx`select set_config('role', 'alphadome_app', true), set_config('app.tenant_id', ${tenantId}, true)`.execute();
    scoped.catch(() => {}); // observed below; never an unhandled rejection while fn runs
    const result = await fn(tx);
    await scoped;
    return result;
  }) as Promise<T>;
}

/**
 * Run `fn` as the operator role: the platform-level tables (dashboard accounts, platform audit)
 * and the admin functions, never tenant rows directly.
 */
export async function withOperator<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', 'alphadome_operator', true), set_config('app.tenant_id', '', true)`;
    return fn(tx);
  }) as Promise<T>;
}

/** Route a phone number id to its tenant (SECURITY DEFINER: id and status only). */
export async function routePhoneNumber(
  sql: Sql | Tx,
  phoneNumberId: string,
): Promise<{ tenantId: string; status: 'active' | 'disabled' } | null> {
  const rows = await sql<{ tenant_id: string; status: 'active' | 'disabled' }[]>`
    select tenant_id, status from alphadome.route_phone_number(${phoneNumberId})`;
  const row = rows[0];
  return row ? { tenantId: row.tenant_id, status: row.status } : null;
}

/** Route a slug to its tenant, for `POST /webhooks/whatsapp/:tenantSlug`. */
export async function routeTenantSlug(
  sql: Sql | Tx,
  slug: string,
): Promise<{ tenantId: string; status: 'active' | 'disabled'; ownMetaApp: boolean } | null> {
  const rows = await sql<{ tenant_id: string; status: 'active' | 'disabled'; own_meta_app: boolean }[]>`
    select tenant_id, status, own_meta_app from alphadome.route_tenant_slug(${slug})`;
  const row = rows[0];
  return row ? { tenantId: row.tenant_id, status: row.status, ownMetaApp: row.own_meta_app } : null;
}
