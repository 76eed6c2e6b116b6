import type postgres from 'postgres';
import type { Tx } from '../db.ts';

/**
 * The audit logs: bot_audit_log per tenant (append-only for the app role) and
 * platform_audit_log for events about no single tenant (operator role only).
 * Details never hold secrets: string values under secret-looking keys are blanked as a
 * second line of defence (a caller should not put them there in the first place).
 */
export interface AuditEntry {
  id: number;
  tenantId: string | null;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
  createdAt: Date;
}

export interface AuditInput {
  tenantId: string;
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
}

const secretKey = /(token|secret|password|apikey|passwd|ciphertext|privatekey)$/;

/** Blank string values whose key names a secret (`accessToken`, `app_secret`, `password`…). */
export function scrubAuditDetail(detail: unknown): unknown {
  if (Array.isArray(detail)) return detail.map(scrubAuditDetail);
  if (detail === null || typeof detail !== 'object' || detail instanceof Date) return detail;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) {
    const folded = k.toLowerCase().replace(/[^a-z]/g, '');
    out[k] = typeof v === 'string' && secretKey.test(folded) ? '[redacted]' : scrubAuditDetail(v);
  }
  return out;
}

const json = (tx: Tx, detail: Record<string, unknown> | undefined) =>
  tx.json((scrubAuditDetail(detail ?? {}) ?? {}) as postgres.JSONValue);

interface AuditRow {
  id: string | number;
  tenant_id: string | null;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
  created_at: Date;
}

const toEntry = (r: AuditRow): AuditEntry => ({
  id: Number(r.id),
  tenantId: r.tenant_id,
  actor: r.actor,
  action: r.action,
  detail: r.detail,
  createdAt: r.created_at,
});

/** Append to a tenant's audit log (inside withTenant for that tenant). */
export async function appendAudit(tx: Tx, entry: AuditInput): Promise<void> {
  await tx`insert into alphadome.bot_audit_log (tenant_id, actor, action, detail)
           values (${entry.tenantId}, ${entry.actor}, ${entry.action}, ${json(tx, entry.detail)})`;
}

/** A tenant's audit log, newest first. */
export async function listAudit(
  tx: Tx,
  tenantId: string,
  opts: { limit?: number; action?: string } = {},
): Promise<AuditEntry[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
  const rows = await tx<AuditRow[]>`
    select id, tenant_id, actor, action, detail, created_at from alphadome.bot_audit_log
     where tenant_id = ${tenantId} ${opts.action ? tx`and action = ${opts.action}` : tx``}
     order by created_at desc, id desc limit ${limit}`;
  return rows.map(toEntry);
}

/** Append to the platform audit log (inside withOperator). */
export async function appendPlatformAudit(
  tx: Tx,
  entry: { actor: string; action: string; detail?: Record<string, unknown> },
): Promise<void> {
  await tx`insert into alphadome.platform_audit_log (actor, action, detail)
           values (${entry.actor}, ${entry.action}, ${json(tx, entry.detail)})`;
}

/** The platform audit log, newest first (inside withOperator). */
export async function listPlatformAudit(tx: Tx, opts: { limit?: number; action?: string } = {}): Promise<AuditEntry[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
  const rows = await tx<AuditRow[]>`
    select id, null::uuid as tenant_id, actor, action, detail, created_at from alphadome.platform_audit_log
     ${opts.action ? tx`where action = ${opts.action}` : tx``}
     order by created_at desc, id desc limit ${limit}`;
  return rows.map(toEntry);
}
