import { UnrecoverableError, type Job } from 'bullmq';
import {
  addUsage,
  announceTenantChanged,
  getMessageByIdempotencyKey,
  markOutboundAccepted,
  markOutboundFailed,
  touchConversationOutbound,
  withTenant,
} from '@alphadome/tenant-core';
import { GraphApiError } from '@alphadome/whatsapp';
import type { ProcessorDeps } from '../deps.ts';
import type { SendJob } from '../queues.ts';

export type SendOutcome = 'sent' | 'already_sent' | 'not_found' | 'already_failed';

/**
 * Send one stored outbound message with the tenant's own number and token, and record the
 * wamid Meta gives it. Graph errors by Meta's code (packages/whatsapp error-policy):
 * retry → throw (BullMQ exponential backoff with jitter); auth (190…) → tenant credentials
 * marked invalid, no retry; fail / outside the 24 h window → stored on the row, no retry.
 * The token is read from the in-memory tenant context; it is never in job data, logs or errors.
 */
export function sendProcessor(deps: ProcessorDeps) {
  return async (job: Job<SendJob>): Promise<SendOutcome> => {
    const d = job.data;
    const row = await withTenant(deps.sql, d.tenantId, (tx) => getMessageByIdempotencyKey(tx, d.idempotencyKey));
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: row?.reply_to_wamid ?? undefined, jobId: job.id, queue: 'send' });
    if (!row) {
      log.warn({ idempotencyKey: d.idempotencyKey }, 'outbound message not found');
      return 'not_found';
    }
    if (row.wamid) return 'already_sent';
    if (row.status === 'failed') return 'already_failed';

    const ctx = await deps.contexts.get(d.tenantId);
    const token = ctx?.secrets.whatsappToken ?? null;
    const phoneNumberId = ctx?.phoneNumberId ?? null;
    if (!ctx || !token || !phoneNumberId) {
      await withTenant(deps.sql, d.tenantId, (tx) =>
        markOutboundFailed(tx, row.id, { code: 0, title: 'Tenant has no WhatsApp credentials or phone number id' }),
      );
      log.error('tenant has no WhatsApp credentials; message not sent');
      throw new UnrecoverableError('tenant has no WhatsApp credentials');
    }

    let wamid: string;
    try {
      ({ wamid } = await deps.graph.sendMessage(phoneNumberId, token, row.payload ?? {}));
    } catch (err) {
      if (!(err instanceof GraphApiError)) throw err;
      deps.metrics.graphErrors.inc({ code: String(err.code), policy: err.policy });
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const failure = { code: err.code, title: err.title };
      const elog = { code: err.code, policy: err.policy, title: err.title, attempt: job.attemptsMade + 1 };
      switch (err.policy) {
        case 'retry':
          if (final) await withTenant(deps.sql, d.tenantId, (tx) => markOutboundFailed(tx, row.id, failure));
          log.warn(elog, final ? 'send failed; out of retries' : 'send failed; will retry');
          throw new Error(`Graph API error ${err.code}: ${err.title}`);
        case 'auth':
          await withTenant(deps.sql, d.tenantId, async (tx) => {
            await markOutboundFailed(tx, row.id, failure);
            await tx`update alphadome.bot_tenants set credential_status = 'invalid', credential_checked_at = now()
                      where id = ${d.tenantId}`;
            await tx`insert into alphadome.bot_audit_log (tenant_id, actor, action, detail)
                     values (${d.tenantId}, 'worker', 'credentials.invalid', ${tx.json({ code: err.code, title: err.title })})`;
          });
          deps.contexts.invalidate(d.tenantId);
          await announceTenantChanged(deps.redisUrl, deps.prefix, d.tenantId);
          log.error(elog, 'WhatsApp token rejected; tenant credentials marked invalid');
          throw new UnrecoverableError(`Graph API error ${err.code}: credentials invalid`);
        case 'outside_window':
          // issue 5: send an approved template instead; for now the message is flagged failed
          await withTenant(deps.sql, d.tenantId, (tx) => markOutboundFailed(tx, row.id, failure));
          log.warn(elog, 'outside the 24-hour window; not sent');
          throw new UnrecoverableError(`Graph API error ${err.code}: outside the customer service window`);
        default:
          await withTenant(deps.sql, d.tenantId, (tx) => markOutboundFailed(tx, row.id, failure));
          log.warn(elog, 'send failed; not retried');
          throw new UnrecoverableError(`Graph API error ${err.code}: ${err.title}`);
      }
    }

    await withTenant(deps.sql, d.tenantId, async (tx) => {
      if (await markOutboundAccepted(tx, row.id, wamid)) {
        await addUsage(tx, d.tenantId, { messages_out: 1 });
        if (row.conversation_id) await touchConversationOutbound(tx, row.conversation_id, new Date());
      }
    });
    log.info({ outboundWamid: wamid, path: row.answer_path }, 'sent');
    return 'sent';
  };
}
