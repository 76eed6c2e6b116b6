import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import { routeTenantSlug, withOperator, withTenant, type Sql, type Tx } from '../db.ts';
import {
  createTenantSchema,
  tenantRoutingSchema,
  tenantUpdateSchema,
  type CreateTenantInput,
  type CredentialStatus,
  type TenantRoutingUpdate,
  type TenantUpdate,
} from '../schemas.ts';
import { appendAudit } from './audit.ts';
import { isUniqueViolation, pgErrorCode } from './pg-errors.ts';

/** A tenant row (alphadome.bot_tenants), without the legacy plaintext credential columns. */
export interface Tenant {
  id: string;
  slug: string;
  clientName: string;
  clientPhone: string | null;
  phoneNumberId: string | null;
  wabaId: string | null;
  displayPhone: string | null;
  isActive: boolean;
  ownMetaApp: boolean;
  isPlatform: boolean;
  coexistence: boolean;
  credentialStatus: CredentialStatus;
  credentialCheckedAt: Date | null;
  tokenExpiresAt: Date | null;
  currency: string;
  timezone: string;
  aiModel: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One line of the operator's tenant list (alphadome.admin_list_tenants). */
export interface TenantSummary {
  id: string;
  slug: string;
  clientName: string;
  phoneNumberId: string | null;
  wabaId: string | null;
  displayPhone: string | null;
  isActive: boolean;
  isPlatform: boolean;
  ownMetaApp: boolean;
  credentialStatus: CredentialStatus;
  tokenExpiresAt: Date | null;
  createdAt: Date;
  lastMessageAt: Date | null;
  messages7d: number;
  failed7d: number;
}

interface TenantRow {
  id: string;
  slug: string;
  client_name: string;
  client_phone: string | null;
  whatsapp_phone_number_id: string | null;
  whatsapp_business_account_id: string | null;
  display_phone: string | null;
  is_active: boolean;
  own_meta_app: boolean;
  is_platform: boolean;
  coexistence: boolean;
  credential_status: CredentialStatus;
  credential_checked_at: Date | null;
  whatsapp_token_expires_at: Date | null;
  currency: string;
  timezone: string;
  ai_model: string | null;
  created_at: Date;
  updated_at: Date;
}

const toTenant = (r: TenantRow): Tenant => ({
  id: r.id,
  slug: r.slug,
  clientName: r.client_name,
  clientPhone: r.client_phone,
  phoneNumberId: r.whatsapp_phone_number_id,
  wabaId: r.whatsapp_business_account_id,
  displayPhone: r.display_phone,
  isActive: r.is_active,
  ownMetaApp: r.own_meta_app,
  isPlatform: r.is_platform,
  coexistence: r.coexistence,
  credentialStatus: r.credential_status,
  credentialCheckedAt: r.credential_checked_at,
  tokenExpiresAt: r.whatsapp_token_expires_at,
  currency: r.currency,
  timezone: r.timezone,
  aiModel: r.ai_model,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

// never `select *`: the legacy plaintext columns stay out of every result
const tenantColumns = (tx: Tx) => tx`
  id, slug, client_name, client_phone, whatsapp_phone_number_id, whatsapp_business_account_id,
  display_phone, is_active, own_meta_app, is_platform, coexistence, credential_status,
  credential_checked_at, whatsapp_token_expires_at, currency, timezone, ai_model, created_at, updated_at`;

function conflictFromUnique(err: unknown, slug?: string, phoneNumberId?: string): never {
  if (isUniqueViolation(err, 'bot_tenants_slug_key')) {
    throw new AppError('conflict', `tenant "${slug ?? '?'}" already exists`, { field: 'slug' });
  }
  if (isUniqueViolation(err, 'bot_tenants_phone_number_id_key')) {
    throw new AppError('conflict', `phone number id ${phoneNumberId ?? '?'} already belongs to another tenant`, {
      field: 'phoneNumberId',
    });
  }
  throw err;
}

/**
 * Create a tenant, its default control settings and a `tenant.created` audit entry, in one
 * transaction scoped to the new id (so the row passes its own RLS check).
 */
export async function createTenant(sql: Sql, input: CreateTenantInput, opts: { actor?: string } = {}): Promise<Tenant> {
  const t = createTenantSchema.parse(input);
  const id = randomUUID();
  try {
    return await withTenant(sql, id, async (tx) => {
      const rows = await tx<TenantRow[]>`
        insert into alphadome.bot_tenants
          (id, slug, client_name, whatsapp_phone_number_id, whatsapp_business_account_id, display_phone,
           own_meta_app, is_platform, coexistence, currency, timezone, ai_model)
        values (${id}, ${t.slug}, ${t.clientName}, ${t.phoneNumberId}, ${t.wabaId ?? null}, ${t.displayPhone ?? null},
                ${t.ownMetaApp}, ${t.isPlatform}, ${t.coexistence}, ${t.currency ?? 'KES'},
                ${t.timezone ?? 'Africa/Nairobi'}, ${t.aiModel ?? null})
        returning ${tenantColumns(tx)}`;
      // coexistence numbers (app + API on one number) get Meta's lower throughput
      await tx`insert into alphadome.bot_control_settings (tenant_id, send_rate_per_second)
               values (${id}, ${t.coexistence ? 20 : 80}) on conflict (tenant_id) do nothing`;
      await appendAudit(tx, {
        tenantId: id,
        actor: opts.actor ?? 'system',
        action: 'tenant.created',
        detail: { slug: t.slug, clientName: t.clientName, phoneNumberId: t.phoneNumberId, isPlatform: t.isPlatform },
      });
      return toTenant(rows[0]!);
    });
  } catch (err) {
    conflictFromUnique(err, t.slug, t.phoneNumberId);
  }
}

/** The tenant of the transaction (RLS hides every other). */
export async function getTenant(tx: Tx, id: string): Promise<Tenant | null> {
  const rows = await tx<TenantRow[]>`select ${tenantColumns(tx)} from alphadome.bot_tenants where id = ${id}`;
  return rows[0] ? toTenant(rows[0]) : null;
}

/** Slug → tenant id, through the routing function; null when no tenant has that slug. */
export async function findTenantIdBySlug(sql: Sql | Tx, slug: string): Promise<string | null> {
  const route = await routeTenantSlug(sql, slug);
  return route?.tenantId ?? null;
}

/** Slug → tenant id, or AppError not_found `tenant "x" not found`. */
export async function requireTenantIdBySlug(sql: Sql | Tx, slug: string): Promise<string> {
  const id = await findTenantIdBySlug(sql, slug);
  if (!id) throw new AppError('not_found', `tenant "${slug}" not found`, { slug });
  return id;
}

/** Slug → tenant row, read in a transaction scoped to that tenant. */
export async function getTenantBySlug(sql: Sql, slug: string): Promise<Tenant | null> {
  const id = await findTenantIdBySlug(sql, slug);
  if (!id) return null;
  return withTenant(sql, id, (tx) => getTenant(tx, id));
}

const updateColumns = {
  clientName: 'client_name',
  clientPhone: 'client_phone',
  displayPhone: 'display_phone',
  wabaId: 'whatsapp_business_account_id',
  tokenExpiresAt: 'whatsapp_token_expires_at',
  aiModel: 'ai_model',
  isActive: 'is_active',
  currency: 'currency',
  timezone: 'timezone',
  coexistence: 'coexistence',
} as const satisfies Record<keyof TenantUpdate, string>;

/**
 * Change the columns a tenant transaction may change (see the grant in 0001); routing
 * columns go through updateTenantRouting. Returns the updated tenant.
 */
export async function updateTenant(tx: Tx, id: string, patch: TenantUpdate): Promise<Tenant> {
  const p = tenantUpdateSchema.parse(patch);
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(updateColumns)) {
    const v = p[key as keyof typeof p];
    if (v !== undefined) row[column] = v;
  }
  if (Object.keys(row).length === 0) {
    const t = await getTenant(tx, id);
    if (!t) throw new AppError('not_found', `tenant ${id} not found`);
    return t;
  }
  const rows = await tx<TenantRow[]>`
    update alphadome.bot_tenants set ${tx(row as Record<string, never>, Object.keys(row) as never[])}
     where id = ${id} returning ${tenantColumns(tx)}`;
  if (!rows[0]) throw new AppError('not_found', `tenant ${id} not found`);
  return toTenant(rows[0]);
}

export async function setTenantActive(tx: Tx, id: string, active: boolean): Promise<Tenant> {
  return updateTenant(tx, id, { isActive: active });
}

/** Record the outcome of a credential check (or of storing a new token). */
export async function setCredentialStatus(tx: Tx, id: string, status: CredentialStatus, checkedAt: Date = new Date()): Promise<void> {
  const rows = await tx`
    update alphadome.bot_tenants set credential_status = ${status}, credential_checked_at = ${checkedAt}
     where id = ${id} returning id`;
  if (rows.length === 0) throw new AppError('not_found', `tenant ${id} not found`);
}

/**
 * Change a tenant's slug, phone number id or own-app flag: an operator action through the
 * SECURITY DEFINER alphadome.admin_update_tenant_routing. `tx` is a withOperator transaction.
 */
export async function updateTenantRouting(tx: Tx, id: string, patch: TenantRoutingUpdate): Promise<void> {
  const p = tenantRoutingSchema.parse(patch);
  try {
    await tx`select alphadome.admin_update_tenant_routing(${id}, ${p.slug ?? null}, ${p.phoneNumberId ?? null}, ${
      p.ownMetaApp ?? null
    })`;
  } catch (err) {
    if (pgErrorCode(err) === 'P0002') throw new AppError('not_found', `tenant ${id} not found`);
    conflictFromUnique(err, p.slug, p.phoneNumberId);
  }
}

interface SummaryRow {
  id: string;
  slug: string;
  client_name: string;
  whatsapp_phone_number_id: string | null;
  whatsapp_business_account_id: string | null;
  display_phone: string | null;
  is_active: boolean;
  is_platform: boolean;
  own_meta_app: boolean;
  credential_status: CredentialStatus;
  whatsapp_token_expires_at: Date | null;
  created_at: Date;
  last_message_at: Date | null;
  messages_7d: string | number;
  failed_7d: string | number;
}

/** Every tenant, with recent activity; `tx` is a withOperator transaction. */
export async function listTenants(tx: Tx): Promise<TenantSummary[]> {
  const rows = await tx<SummaryRow[]>`select * from alphadome.admin_list_tenants()`;
  return rows.map((r) => ({
    id: r.id,
    slug: r.slug,
    clientName: r.client_name,
    phoneNumberId: r.whatsapp_phone_number_id,
    wabaId: r.whatsapp_business_account_id,
    displayPhone: r.display_phone,
    isActive: r.is_active,
    isPlatform: r.is_platform,
    ownMetaApp: r.own_meta_app,
    credentialStatus: r.credential_status,
    tokenExpiresAt: r.whatsapp_token_expires_at,
    createdAt: r.created_at,
    lastMessageAt: r.last_message_at,
    messages7d: Number(r.messages_7d),
    failed7d: Number(r.failed_7d),
  }));
}

/** Convenience for callers holding only a pool: listTenants in its own operator transaction. */
export async function listAllTenants(sql: Sql): Promise<TenantSummary[]> {
  return withOperator(sql, listTenants);
}
