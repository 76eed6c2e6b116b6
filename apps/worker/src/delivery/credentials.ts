import { DelayedError, Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { announceTenantChanged, appendAudit, withTenant, type Logger, type Sql, type TenantContextCache } from '@alphadome/tenant-core';
import type { Alerter } from '../alerts/alerter.ts';
import type { WorkerMetrics } from '../metrics.ts';

/**
 * Credential health of the send path. When Meta rejects a tenant's token (190 and the other
 * 'auth' codes), the tenant's credential is marked invalid — by exactly one worker: the update
 * flips valid → invalid once, and only the flipper alerts — and that tenant's sends are
 * *parked*: delayed (not failed), remembered in a per-tenant set, and looked at again every
 * `parkRecheckMs`. When the credential is replaced (CLI / dashboard set it valid and announce
 * the tenant change), `resumeTenant` promotes the parked jobs at once. Other tenants never wait.
 */
export interface CredentialDeps {
  sql: Sql;
  redis: Redis;
  redisUrl: string;
  prefix: string;
  contexts: TenantContextCache;
  alerter: Alerter;
  logger: Logger;
  metrics: WorkerMetrics;
}

export const parkedKey = (prefix: string, tenantId: string) => `${prefix}:send:parked:${tenantId}`;

export const BLOCKED_STATUSES: readonly string[] = ['invalid', 'expired'];

/** The tenant's credential status as stored now (not from any cache). */
export async function storedCredentialStatus(sql: Sql, tenantId: string): Promise<string | null> {
  const rows = await withTenant(sql, tenantId, (tx) => tx<{ s: string }[]>`select credential_status as s from alphadome.bot_tenants where id = ${tenantId}`);
  return rows[0]?.s ?? null;
}

/**
 * Mark the tenant's WhatsApp credential invalid; true when this call flipped it (and so sent
 * the one alert of this incident). Never includes the token anywhere.
 */
export async function markCredentialsInvalid(
  d: CredentialDeps,
  tenantId: string,
  why: { code: number; title: string; source: 'send' | 'debug_token' },
): Promise<boolean> {
  const flippedAt = await withTenant(d.sql, tenantId, async (tx) => {
    const rows = await tx<{ at: Date }[]>`
      update alphadome.bot_tenants set credential_status = 'invalid', credential_checked_at = now()
       where id = ${tenantId} and credential_status not in ('invalid', 'expired')
      returning credential_checked_at as at`;
    if (!rows[0]) return null;
    await appendAudit(tx, { tenantId, actor: 'worker', action: 'credentials.invalid', detail: { code: why.code, title: why.title, source: why.source } });
    return rows[0].at;
  });
  d.contexts.invalidate(tenantId);
  if (!flippedAt) return false;
  await announceTenantChanged(d.redis, d.prefix, tenantId);
  d.logger.error({ tenantId, code: why.code, source: why.source }, 'WhatsApp credential rejected; sends for this tenant are paused');
  await raiseCredentialAlert(d, tenantId, flippedAt, why);
  return true;
}

async function raiseCredentialAlert(d: CredentialDeps, tenantId: string, at: Date, why: { code: number; title: string; source: string }) {
  try {
    const res = await d.alerter.raise({
      tenantId,
      kind: 'credentials_invalid',
      dedupeKey: `credentials_invalid:${at.toISOString()}`,
      subject: 'WhatsApp access token rejected: replies are paused',
      text:
        `Meta rejected the WhatsApp access token (error ${why.code}: ${why.title}). ` +
        'Customers are not being answered: replies wait until a new token is set ' +
        '(alphadome tenant set-credentials <slug> --whatsapp-token-file FILE, or the dashboard). ' +
        'They are sent automatically once it is replaced.',
      detail: { code: why.code, source: why.source },
    });
    if (res.sent) d.metrics.alertsSent.inc({ kind: 'credentials_invalid' });
  } catch (err) {
    d.logger.error({ tenantId, err: (err as Error).message }, 'credential alert failed');
  }
}

/** Park a send of a tenant whose credential is unusable: delayed, remembered, never failed. */
export async function parkSend(d: CredentialDeps, job: Job, token: string | undefined, recheckMs: number): Promise<never> {
  const data = job.data as { tenantId: string; delivery?: Record<string, unknown> };
  const parked = Number(data.delivery?.['parked'] ?? 0) + 1;
  await d.redis.sadd(parkedKey(d.prefix, data.tenantId), job.id!);
  await job.updateData({ ...data, delivery: { ...(data.delivery ?? {}), parked, slot: 0 } });
  d.metrics.sendDelays.inc({ reason: 'credentials' });
  if (!token) throw new Error('send job without a lock token cannot be parked');
  await job.moveToDelayed(Date.now() + recheckMs, token);
  throw new DelayedError();
}

/**
 * The tenant's credential may have changed: if it is usable again, promote its parked sends.
 * Returns how many were promoted.
 */
export async function resumeTenant(d: CredentialDeps, sendQueue: Queue, tenantId: string): Promise<number> {
  d.contexts.invalidate(tenantId);
  const key = parkedKey(d.prefix, tenantId);
  const ids = await d.redis.smembers(key);
  if (ids.length === 0) return 0;
  const status = await storedCredentialStatus(d.sql, tenantId);
  if (status === null || BLOCKED_STATUSES.includes(status)) return 0;
  let promoted = 0;
  for (const id of ids) {
    await d.redis.srem(key, id);
    const job = await Job.fromId(sendQueue, id);
    if (!job) continue;
    try {
      if (await job.isDelayed()) {
        await job.promote();
        promoted++;
      }
    } catch {
      // moved on meanwhile (being processed, or promoted by another worker): nothing to do
    }
  }
  if (promoted > 0) d.logger.info({ tenantId, promoted }, 'credential usable again; parked sends resumed');
  return promoted;
}

/** resumeTenant for every tenant with parked sends (a '*' change, or a periodic sweep). */
export async function resumeAll(d: CredentialDeps, sendQueue: Queue): Promise<number> {
  let cursor = '0';
  let total = 0;
  const head = parkedKey(d.prefix, '');
  do {
    const [next, keys] = await d.redis.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) total += await resumeTenant(d, sendQueue, k.slice(head.length));
  } while (cursor !== '0');
  return total;
}
