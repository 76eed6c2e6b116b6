import type { Job, Queue } from 'bullmq';
import { appendAudit, withTenant } from '@alphadome/tenant-core';
import { GraphApiError } from '@alphadome/whatsapp';
import type { ProcessorDeps } from '../deps.ts';
import { markCredentialsInvalid, resumeAll } from '../delivery/credentials.ts';
import { backlogKey, redisOf } from '../delivery/fair-enqueue.ts';
import type { DeliveryRuntime } from '../delivery/runtime.ts';

/** Days before a token's expiry at which its tenant is alerted (once each). */
export const EXPIRY_THRESHOLDS_DAYS = [14, 3, 1] as const;
const DAY = 24 * 3600 * 1000;

export const maintenanceJobs = {
  tokenExpiry: 'token-expiry',
  backlogReconcile: 'backlog-reconcile',
} as const;

export interface MaintenanceOptions {
  /**
   * App access token (`{app-id}|{app-secret}`) for Meta's debug_token: with it the monitor
   * also asks Meta for each token's validity and expiry. Without it, the stored expiry only.
   */
  metaAppToken?: string | undefined;
  /** queues whose fairness backlogs are reconciled (reply, send) */
  fairQueues?: Queue[];
}

export interface TokenExpiryReport {
  checked: number;
  debugTokenChecked: number;
  alerts: { tenantId: string; kind: string; key: string }[];
}

const fmt = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The token-expiry monitor (a repeatable job, see worker.ts):
 *  1. with an app token: Meta's debug_token for every active tenant's WhatsApp token — an
 *     invalid token marks the credential invalid (and alerts, once), a reported expiry is stored;
 *  2. token_expiry_scan: every token that expires within 14 days gets the alert of the
 *     nearest threshold it has passed (14, 3, 1 days), once per threshold and expiry date;
 *     an expired one marks the credential 'expired' (sends wait) and alerts once.
 */
export async function runTokenExpiryCheck(
  deps: ProcessorDeps,
  rt: DeliveryRuntime,
  opts: MaintenanceOptions,
  now: Date = new Date(),
): Promise<TokenExpiryReport> {
  const report: TokenExpiryReport = { checked: 0, debugTokenChecked: 0, alerts: [] };
  const log = deps.logger.child({ queue: 'maintenance', job: maintenanceJobs.tokenExpiry });

  if (opts.metaAppToken) {
    const ids = await deps.sql<{ tenant_id: string; is_active: boolean }[]>`select * from alphadome.list_tenant_ids()`;
    for (const { tenant_id: tenantId } of ids.filter((r) => r.is_active)) {
      const ctx = await deps.contexts.get(tenantId);
      const token = ctx?.secrets.whatsappToken;
      if (!ctx || !token || ctx.credentialStatus === 'invalid') continue;
      try {
        const info = await deps.graph.debugToken(token, opts.metaAppToken);
        report.debugTokenChecked++;
        if (!info.isValid) {
          await markCredentialsInvalid(rt, tenantId, { code: 190, title: 'debug_token: token is not valid', source: 'debug_token' });
          continue;
        }
        if (info.expiresAt) {
          const at = info.expiresAt;
          await withTenant(deps.sql, tenantId, (tx) => tx`
            update alphadome.bot_tenants set whatsapp_token_expires_at = ${at}, credential_checked_at = now()
             where id = ${tenantId} and whatsapp_token_expires_at is distinct from ${at}`);
        }
      } catch (err) {
        const code = err instanceof GraphApiError ? err.code : undefined;
        log.warn({ tenantId, code, err: (err as Error).message }, 'debug_token check failed; stored expiry used');
      }
    }
  }

  const horizon = new Date(now.getTime() + (EXPIRY_THRESHOLDS_DAYS[0] + 1) * DAY);
  const rows = await deps.sql<{ tenant_id: string; expires_at: Date | null; credential_status: string }[]>`
    select * from alphadome.token_expiry_scan(${horizon})`;
  for (const r of rows) {
    if (!r.expires_at) continue;
    report.checked++;
    const left = r.expires_at.getTime() - now.getTime();
    const expiry = fmt(r.expires_at);
    if (left <= 0) {
      const flipped = await withTenant(deps.sql, r.tenant_id, async (tx) => {
        const u = await tx`update alphadome.bot_tenants set credential_status = 'expired', credential_checked_at = now()
                            where id = ${r.tenant_id} and credential_status = 'valid' returning id`;
        if (u.length > 0) await appendAudit(tx, { tenantId: r.tenant_id, actor: 'worker', action: 'credentials.expired', detail: { expiresAt: expiry } });
        return u.length > 0;
      });
      if (flipped) deps.contexts.invalidate(r.tenant_id);
      const key = `token_expired:${expiry}`;
      const res = await rt.alerter.raise({
        tenantId: r.tenant_id,
        kind: 'token_expired',
        dedupeKey: key,
        subject: 'WhatsApp access token has expired: replies are paused',
        text: `The WhatsApp access token expired at ${expiry}. Customers are not being answered until a new token is set (alphadome tenant set-credentials <slug> --whatsapp-token-file FILE, or the dashboard).`,
        detail: { expiresAt: expiry },
      });
      if (res.sent) {
        deps.metrics.alertsSent.inc({ kind: 'token_expired' });
        report.alerts.push({ tenantId: r.tenant_id, kind: 'token_expired', key });
      }
      continue;
    }
    // the nearest threshold passed: 13 days left → the 14-day alert, 2.5 → the 3-day one
    const days = [...EXPIRY_THRESHOLDS_DAYS].reverse().find((t) => left <= t * DAY);
    if (days === undefined) continue;
    const key = `token_expiring:${days}d:${expiry}`;
    const inDays = Math.max(1, Math.ceil(left / DAY));
    const res = await rt.alerter.raise({
      tenantId: r.tenant_id,
      kind: 'token_expiring',
      dedupeKey: key,
      subject: `WhatsApp access token expires in ${inDays} day${inDays === 1 ? '' : 's'}`,
      text: `The WhatsApp access token expires at ${expiry} (in about ${inDays} day${inDays === 1 ? '' : 's'}). Replace it before then, or customers will not be answered: alphadome tenant set-credentials <slug> --whatsapp-token-file FILE --token-expires-at DATE, or the dashboard.`,
      detail: { expiresAt: expiry, threshold_days: days },
    });
    if (res.sent) {
      deps.metrics.alertsSent.inc({ kind: 'token_expiring' });
      report.alerts.push({ tenantId: r.tenant_id, kind: 'token_expiring', key });
    }
  }
  if (report.alerts.length > 0) log.info({ alerts: report.alerts.length }, 'token expiry alerts sent');
  return report;
}

/**
 * Fairness backlogs (delivery/fair-enqueue.ts) lose an id only when its job ends in this
 * process; a crash, or a debounced reply replaced by a newer one, leaves ids behind. Drop the
 * ids whose job is gone or finished. Also a sweep for parked sends whose tenant recovered.
 */
export async function reconcileBacklogs(rt: DeliveryRuntime, queues: Queue[]): Promise<number> {
  let removed = 0;
  for (const q of queues) {
    const client = await redisOf(q);
    const head = backlogKey(q, '');
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 200);
      cursor = next;
      for (const key of keys) {
        const ids = await client.smembers(key);
        if (ids.length === 0) continue;
        const pipe = client.pipeline();
        for (const id of ids) pipe.hget(`${q.opts.prefix ?? 'bull'}:${q.name}:${id}`, 'finishedOn').exists(`${q.opts.prefix ?? 'bull'}:${q.name}:${id}`);
        const res = (await pipe.exec()) ?? [];
        const gone = ids.filter((_id: string, i: number) => res[i * 2]?.[1] !== null || res[i * 2 + 1]?.[1] === 0);
        if (gone.length > 0) removed += await client.srem(key, ...gone);
      }
    } while (cursor !== '0');
  }
  await resumeAll(rt, rt.sendQueue);
  return removed;
}

export function maintenanceProcessor(deps: ProcessorDeps, rt: DeliveryRuntime, opts: MaintenanceOptions) {
  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case maintenanceJobs.tokenExpiry:
        return runTokenExpiryCheck(deps, rt, opts);
      case maintenanceJobs.backlogReconcile:
        return { removed: await reconcileBacklogs(rt, opts.fairQueues ?? []) };
      default:
        deps.logger.debug({ name: job.name }, 'maintenance job not handled here');
        return null;
    }
  };
}
