import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  addUsage,
  getMessageByIdempotencyKey,
  markOutboundAccepted,
  markOutboundFailed,
  touchConversationOutbound,
  withTenant,
  type MessageRow,
} from '@alphadome/tenant-core';
import { GraphApiError } from '@alphadome/whatsapp';
import type { ProcessorDeps } from '../deps.ts';
import { BLOCKED_STATUSES, markCredentialsInvalid, parkSend, storedCredentialStatus } from '../delivery/credentials.ts';
import { SendRetryError } from '../delivery/retry-policy.ts';
import type { DeliveryRuntime } from '../delivery/runtime.ts';
import { applyWindowFallback, OUTSIDE_WINDOW_CODE, outsideWindow } from '../delivery/service-window.ts';
import type { SendJob } from '../queues.ts';

export type SendOutcome = 'sent' | 'already_sent' | 'not_found' | 'already_failed' | 'outside_window_human';

/** What the send path keeps in job data besides the SendJob (never secrets). */
export interface DeliveryState {
  /** times this send was moved to delayed by the rate limits (bounded by maxRateDelays) */
  delays?: number;
  /** the number slot (Redis ms) reserved on an earlier pass; 0 = none */
  slot?: number;
  /** times parked while the tenant's credential was unusable */
  parked?: number;
}
export type SendJobData = SendJob & { delivery?: DeliveryState; lastError?: { code: number; title: string } };

const settingNumber = (extra: Record<string, unknown>, key: string): number | undefined => {
  const v = extra[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
};

/**
 * Send one stored outbound message with the tenant's own number and token, and record the
 * wamid Meta gives it. In order:
 *  1. credential gate: a tenant whose credential is invalid/expired has its sends parked
 *     (delayed and rechecked, resumed at once when the credential is replaced), never failed;
 *  2. the 24-hour window: outside it, the tenant's approved template instead, or a person;
 *  3. rate limits (per number, per customer pair): over the limit → moved to delayed until its
 *     slot, which is neither a failed attempt nor blocking a worker (bounded: maxRateDelays);
 *  4. Graph errors by Meta's code: retry → SendRetryError (the 'delivery' backoff: exponential
 *     with jitter, bounded attempts); auth (190…) → credential invalid + alert once + park;
 *     131047 → step 2's fallback; fail → failed at once with code and reason.
 * What fails for good stays in BullMQ's failed set (reason = code + title, data.lastError) and
 * is counted in alphadome_send_failures_total{tenant,code}. The token lives only in the
 * in-memory tenant context; never in job data, logs or errors.
 */
export function sendProcessor(deps: ProcessorDeps, rt: DeliveryRuntime) {
  return async (job: Job<SendJobData>, token?: string): Promise<SendOutcome> => {
    const d = job.data;
    const state = await withTenant(deps.sql, d.tenantId, async (tx) => {
      // the row and its conversation's last inbound time, pipelined: one round trip
      const [row, [c]] = await Promise.all([
        getMessageByIdempotencyKey(tx, d.idempotencyKey),
        tx<{ last_inbound_at: Date | null }[]>`
          select c.last_inbound_at from alphadome.bot_message_logs m
            join alphadome.bot_conversations c on c.id = m.conversation_id
           where m.idempotency_key = ${d.idempotencyKey}`,
      ]);
      return { row, lastInboundAt: row?.conversation_id ? c?.last_inbound_at ?? null : null };
    });
    let row: MessageRow | null = state.row;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: row?.reply_to_wamid ?? undefined, jobId: job.id, queue: 'send' });
    if (!row) {
      log.warn({ idempotencyKey: d.idempotencyKey }, 'outbound message not found');
      return 'not_found';
    }
    if (row.wamid) return 'already_sent';
    if (row.status === 'failed') return 'already_failed';

    const failFor = async (code: number, title: string, unrecoverable: boolean): Promise<never> => {
      await withTenant(deps.sql, d.tenantId, (tx) => markOutboundFailed(tx, row!.id, { code, title }));
      deps.metrics.sendFailures.inc({ tenant: d.tenantId, code: String(code) });
      await job.updateData({ ...job.data, lastError: { code, title } });
      const msg = `Graph API error ${code}: ${title}`;
      throw unrecoverable ? new UnrecoverableError(msg) : new SendRetryError(code, title);
    };

    // 1. credential gate
    let ctx = await deps.contexts.get(d.tenantId);
    if (ctx && BLOCKED_STATUSES.includes(ctx.credentialStatus)) {
      // the cache may lag a replacement announced a moment ago: the stored status decides
      const stored = await storedCredentialStatus(deps.sql, d.tenantId);
      if (stored !== null && BLOCKED_STATUSES.includes(stored)) {
        log.info({ credentialStatus: stored }, 'tenant credential unusable; send parked');
        return parkSend(rt, job, token, rt.config.parkRecheckMs);
      }
      deps.contexts.invalidate(d.tenantId);
      ctx = await deps.contexts.get(d.tenantId);
    }
    const waToken = ctx?.secrets.whatsappToken ?? null;
    const phoneNumberId = ctx?.phoneNumberId ?? null;
    if (!ctx || !waToken || !phoneNumberId) {
      log.error('tenant has no WhatsApp credentials; message not sent');
      return failFor(0, 'Tenant has no WhatsApp credentials or phone number id', true);
    }

    // 2. the 24-hour window
    let payload: Record<string, unknown> = row.payload ?? {};
    if (row.message_type !== 'template' && outsideWindow(state.lastInboundAt, Date.now(), rt.config.serviceWindowMs)) {
      const r = row;
      const fb = await withTenant(deps.sql, d.tenantId, (tx) => applyWindowFallback(tx, d.tenantId, r, 'last_inbound'));
      if (fb.kind === 'human') {
        deps.metrics.sendFailures.inc({ tenant: d.tenantId, code: String(OUTSIDE_WINDOW_CODE) });
        log.warn('outside the 24-hour window and no approved template: conversation flagged for a person');
        return 'outside_window_human';
      }
      payload = fb.payload;
      log.info({ template: fb.templateName }, 'outside the 24-hour window: approved template sent instead');
    }

    // 3. rate limits
    const delivery: DeliveryState = d.delivery ?? {};
    const limit = ctx.settings.sendRatePerSecond > 0 ? ctx.settings.sendRatePerSecond : 80;
    const taken = await rt.limiter.take({
      phoneNumberId,
      waId: row.wa_id,
      limit,
      windowMs: rt.config.windowMs + rt.config.windowMarginMs,
      pairIntervalMs: settingNumber(ctx.settings.extra, 'pair_interval_ms') ?? rt.config.pairIntervalMs,
      pairBurst: settingNumber(ctx.settings.extra, 'pair_burst') ?? rt.config.pairBurst,
      slot: delivery.slot ?? 0,
    });
    if (!taken.ok) {
      const delays = (delivery.delays ?? 0) + 1;
      if (delays > rt.config.maxRateDelays) {
        log.error({ delays }, 'send delayed too many times by the rate limits; failing it');
        return failFor(-429, `Rate limit: still waiting after ${delays - 1} delays`, true);
      }
      await job.updateData({ ...d, delivery: { ...delivery, delays, slot: taken.slot } });
      deps.metrics.sendDelays.inc({ reason: taken.reason === 'pair' ? 'pair' : 'number' });
      if (!token) throw new Error('send job without a lock token cannot be delayed');
      await job.moveToDelayed(Date.now() + taken.waitMs, token);
      throw new DelayedError();
    }

    // 4. the send
    let wamid: string;
    try {
      ({ wamid } = await deps.graph.sendMessage(phoneNumberId, waToken, payload));
    } catch (err) {
      if (!(err instanceof GraphApiError)) throw err;
      deps.metrics.graphErrors.inc({ code: String(err.code), policy: err.policy });
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const elog = { code: err.code, policy: err.policy, title: err.title, attempt: job.attemptsMade + 1 };
      switch (err.policy) {
        case 'retry':
          log.warn(elog, final ? 'send failed; out of retries' : 'send failed; will retry');
          // the slot was used: a retry reserves a new one
          await job.updateData({ ...d, delivery: { ...delivery, slot: 0 }, lastError: { code: err.code, title: err.title } });
          if (final) return failFor(err.code, err.title, true);
          throw new SendRetryError(err.code, err.title);
        case 'auth':
          await markCredentialsInvalid(rt, d.tenantId, { code: err.code, title: err.title, source: 'send' });
          log.error(elog, 'WhatsApp token rejected; send parked until the credential is replaced');
          return parkSend(rt, job, token, rt.config.parkRecheckMs);
        case 'outside_window': {
          const r = row;
          const fb = await withTenant(deps.sql, d.tenantId, (tx) => applyWindowFallback(tx, d.tenantId, r, 'meta_131047'));
          if (fb.kind === 'human') {
            deps.metrics.sendFailures.inc({ tenant: d.tenantId, code: String(err.code) });
            log.warn(elog, 'outside the 24-hour window (Meta 131047): conversation flagged for a person');
            return 'outside_window_human';
          }
          log.info({ ...elog, template: fb.templateName }, 'outside the 24-hour window (Meta 131047): sending the approved template');
          await job.updateData({ ...d, delivery: { ...delivery, slot: 0 } });
          if (!token) throw new Error('send job without a lock token cannot be delayed');
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        default:
          log.warn(elog, 'send failed; not retried');
          return failFor(err.code, err.title, true);
      }
    }

    row = row as MessageRow;
    const sent = row;
    // Meta has accepted the message: if recording its wamid fails now, a job retry would send it
    // again. Retry the write itself for a few seconds first (a cut connection, a failover).
    for (let attempt = 1; ; attempt++) {
      try {
        await withTenant(deps.sql, d.tenantId, async (tx) => {
          if (await markOutboundAccepted(tx, sent.id, wamid)) {
            // pipelined; the tenant's shared usage row last, so its lock is held only until COMMIT
            await Promise.all([
              sent.conversation_id ? touchConversationOutbound(tx, sent.conversation_id, new Date()) : null,
              addUsage(tx, d.tenantId, { messages_out: 1 }),
            ]);
          }
        });
        break;
      } catch (err) {
        if (attempt >= 6) throw err;
        log.warn({ attempt, err: { message: (err as Error).message } }, 'recording a sent message failed; retrying the write');
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      }
    }
    log.info({ outboundWamid: wamid, path: sent.answer_path }, 'sent');
    return 'sent';
  };
}
