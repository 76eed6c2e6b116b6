import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  getOutboundForSend,
  isUuid,
  markOutboundFailed,
  recordOutboundAccepted,
  sendJobId,
  withinDeadline,
  withTenant,
  withTenantOneTrip,
  type Logger,
  type MessageRow,
  type RecordAcceptedResult,
  type Sql,
} from '@alphadome/tenant-core';
import { GRAPH_INVALID_RESPONSE_CODE, GRAPH_NETWORK_CODE, GRAPH_TIMEOUT_CODE, GraphApiError } from '@alphadome/whatsapp';
import type { ProcessorDeps } from '../deps.ts';
import { defaultDeliveryConfig } from '../delivery/config.ts';
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

// ---- at-most-once toward Meta -----------------------------------------------------------------
//
// A Graph call whose answer we never read (the worker was killed, the call timed out, the
// connection dropped) may or may not have been accepted. Sending again blindly is how a customer
// gets the same reply twice. So every call is bracketed:
//  - before it, an attempt marker in Redis (`<prefix>:send-attempt:<send job id>` = "p <ms>"),
//    and the call carries biz_opaque_callback_data = "ad1:<outbound row id>", which Meta echoes
//    in that message's status webhooks;
//  - after Meta's answer, the marker holds the wamid ("w <wamid>") while the database write
//    (retried in-process) records it: a Postgres cut or a kill between Meta's answer and the
//    commit leaves the wamid where the retried job finds it, and records it instead of sending;
//  - after an answer that says "not accepted" (an error body, a refused connection) the marker
//    is deleted: the retry sends at once.
// A retried job that finds a marker still "p" had an attempt whose outcome nobody saw. It waits
// (moved to delayed, holding no worker slot) until attemptWaitMs after that attempt started, for
// the status webhook: the status processor matches the callback data to the row and records the
// wamid (status.ts), and the retry then finds the row sent. No status by then → Meta did not
// take it: send again. A duplicate now needs Meta to accept a message and its status webhooks to
// be later than attemptWaitMs, or Redis to lose the marker.

/**
 * A pending marker outlives what it guards: the wait (attemptWaitMs, at least the default's),
 * the retries of a failed database write.
 */
const pendingMarkerTtlMs = (attemptWaitMs: number): number => Math.max(defaultDeliveryConfig.attemptWaitMs, attemptWaitMs) + 10 * 60_000;
const ACCEPTED_MARKER_TTL_MS = 60 * 60_000;

const sendAttemptKey = (prefix: string, sendId: string): string => `${prefix}:send-attempt:${sendId}`;

const CALLBACK_PREFIX = 'ad1:';
/** biz_opaque_callback_data of a send: the outbound row's id (not a secret; nothing else). */
const sendCallbackData = (messageId: string): string => `${CALLBACK_PREFIX}${messageId}`;
/** The outbound row id in a status's biz_opaque_callback_data, if it is one of ours. */
export function parseSendCallbackData(v: unknown): string | null {
  if (typeof v !== 'string' || !v.startsWith(CALLBACK_PREFIX)) return null;
  const id = v.slice(CALLBACK_PREFIX.length);
  return isUuid(id) ? id.toLowerCase() : null;
}

type AttemptMarker = { kind: 'pending'; startedAt: number } | { kind: 'accepted'; wamid: string };
function parseMarker(v: string | null): AttemptMarker | null {
  if (!v) return null;
  if (v.startsWith('w ') && v.length > 2) return { kind: 'accepted', wamid: v.slice(2) };
  if (v.startsWith('p ')) {
    const startedAt = Number(v.slice(2));
    if (Number.isFinite(startedAt)) return { kind: 'pending', startedAt };
  }
  return null;
}

/**
 * An error after which Meta may still have accepted the message: no answer read (timeout, a
 * connection cut mid-request), or a 2xx we could not understand. A refused connection and any
 * error answer from Meta mean it was not accepted.
 */
function outcomeUnknown(err: GraphApiError): boolean {
  if (err.code === GRAPH_TIMEOUT_CODE || err.code === GRAPH_INVALID_RESPONSE_CODE) return true;
  if (err.code === GRAPH_NETWORK_CODE) return err.details !== 'ECONNREFUSED' && err.details !== 'ENOTFOUND';
  return false;
}

/**
 * A database call of the send path settles within this, or the attempt fails (withinDeadline): a
 * query on a connection that died can stay unsettled for good (a postgres.js quirk), and a job
 * stuck in it keeps its lock alive and never finishes. The abandoned call is harmless: a read, or
 * a write that is idempotent (recordOutboundAccepted).
 */
const DB_DEADLINE_MS = 20_000;

/**
 * Record the wamid Meta gave a row (once: see recordOutboundAccepted), retrying the write itself
 * for a few seconds (a cut connection, a failover): Meta has accepted the message, so a failed
 * write must not turn into a job retry that sends it again.
 */
async function recordAccepted(sql: Sql, tenantId: string, messageId: string, wamid: string, log: Logger): Promise<RecordAcceptedResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withinDeadline(
        // BEGIN, the tenant, the one-statement record and COMMIT in one round trip
        withTenantOneTrip(sql, tenantId, (tx) => recordOutboundAccepted(tx, tenantId, messageId, wamid)),
        DB_DEADLINE_MS,
        'recording a sent message',
      );
    } catch (err) {
      if (attempt >= 7) throw err;
      log.warn({ attempt, err: { message: (err as Error).message } }, 'recording a sent message failed; retrying the write');
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** (attempt - 1))));
    }
  }
}

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
  // the delivery config's attemptWaitMs (SEND_ATTEMPT_WAIT_MS; default in delivery/config.ts)
  const attemptWaitMs = rt.config.attemptWaitMs;
  const pendingMarkerTtl = pendingMarkerTtlMs(attemptWaitMs);
  const redis: Redis = rt.redis;
  return async (job: Job<SendJobData>, token?: string): Promise<SendOutcome> => {
    const d = job.data;
    const attemptKey = sendAttemptKey(deps.prefix, sendJobId(d.tenantId, d.idempotencyKey));
    // the attempt marker is read beside the row (one round trip each, concurrently)
    const markerP = redis.get(attemptKey);
    markerP.catch(() => {});
    // the row and its conversation's last inbound time in one statement; with BEGIN, the tenant
    // and COMMIT: one round trip
    const state = await withinDeadline(
      withTenantOneTrip(deps.sql, d.tenantId, (tx) => getOutboundForSend(tx, d.idempotencyKey)),
      DB_DEADLINE_MS,
      'reading the message to send',
    );
    let row: MessageRow | null = state?.row ?? null;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: row?.reply_to_wamid ?? undefined, jobId: job.id, queue: 'send' });
    if (!row) {
      log.warn({ idempotencyKey: d.idempotencyKey }, 'outbound message not found');
      return 'not_found';
    }
    if (row.wamid) return 'already_sent';
    if (row.status === 'failed') return 'already_failed';

    // an earlier attempt of this send whose outcome was not recorded (see the top of this file)
    const earlier = parseMarker(await markerP);
    if (earlier?.kind === 'accepted') {
      const r = await recordAccepted(deps.sql, d.tenantId, row.id, earlier.wamid, log);
      log.warn({ outboundWamid: earlier.wamid, result: r }, 'an earlier attempt was accepted by Meta: its wamid recorded, not sent again');
      return 'already_sent';
    }
    if (earlier?.kind === 'pending') {
      const until = earlier.startedAt + attemptWaitMs;
      if (Date.now() < until) {
        log.warn({ waitMs: until - Date.now() }, 'an earlier attempt got no answer: waiting for its status webhook before sending again');
        deps.metrics.sendDelays.inc({ reason: 'unanswered_attempt' });
        if (!token) throw new Error('send job without a lock token cannot be delayed');
        await job.moveToDelayed(until, token);
        throw new DelayedError();
      }
      log.warn('an earlier attempt got no answer and no status webhook came: sending again');
    }

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
    if (row.message_type !== 'template' && outsideWindow(state?.lastInboundAt ?? null, Date.now(), rt.config.serviceWindowMs)) {
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

    // 4. the send, bracketed by the attempt marker
    let wamid: string;
    const sending = row;
    await redis.set(attemptKey, `p ${Date.now()}`, 'PX', pendingMarkerTtl);
    try {
      ({ wamid } = await deps.graph.sendMessage(phoneNumberId, waToken, payload, { callbackData: sendCallbackData(sending.id) }));
    } catch (err) {
      if (!(err instanceof GraphApiError)) throw err;
      // Meta said no (or never got it): the retry needs no wait. Unknown outcome: keep the marker.
      if (!outcomeUnknown(err)) {
        await redis.del(attemptKey).catch((e: Error) => log.warn({ err: { message: e.message } }, 'clearing the send attempt marker failed'));
      }
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

    // Meta has accepted the message: the wamid goes beside the attempt marker (for a retry, should
    // this process die or the database write fail for good) while the database records it
    const sent = row as MessageRow;
    const marked = redis
      .set(attemptKey, `w ${wamid}`, 'PX', ACCEPTED_MARKER_TTL_MS)
      .catch((e: Error) => log.warn({ err: { message: e.message } }, 'keeping the wamid beside the attempt marker failed'));
    const [result] = await Promise.all([recordAccepted(deps.sql, d.tenantId, sent.id, wamid, log), marked]);
    if (result === 'other') log.warn({ outboundWamid: wamid }, 'Meta accepted this message twice: another wamid was recorded first');
    log.info({ outboundWamid: wamid, path: sent.answer_path }, 'sent');
    return 'sent';
  };
}
