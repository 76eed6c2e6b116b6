import type { Job } from 'bullmq';
import {
  addUsage,
  getMessageByIdempotencyKey,
  insertInboundMessage,
  setMessageConversation,
  upsertContactAndConversation,
  withTenant,
  type InboundMessageJob,
} from '@alphadome/tenant-core';
import type { ProcessorDeps } from '../deps.ts';
import { messageText } from '../message-text.ts';

export type InboundOutcome =
  | 'replying'
  | 'duplicate'
  | 'tenant_disabled'
  | 'bot_disabled'
  | 'human_mode'
  | 'from_business'
  | 'not_replyable'
  | 'unknown_tenant';

/**
 * Store the message under its tenant (idempotent on tenant + wamid), record the contact and
 * conversation, then decide whether the bot answers. The controls are read fresh here (not
 * from the context cache): switching the bot off takes effect on the very next message.
 */
export function inboundProcessor(deps: ProcessorDeps) {
  return async (job: Job<InboundMessageJob>): Promise<InboundOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.wamid, jobId: job.id, queue: 'inbound' });
    const mt = messageText(d.message);
    const receivedAt = new Date(d.receivedAt || Date.now());

    const decision = await withTenant(deps.sql, d.tenantId, async (tx) => {
      const [controls] = await tx<{ is_active: boolean; bot_enabled: boolean | null }[]>`
        select t.is_active, (select s.bot_enabled from alphadome.bot_control_settings s limit 1) as bot_enabled
          from alphadome.bot_tenants t where t.id = ${d.tenantId}`;
      if (!controls) return { outcome: 'unknown_tenant' as const };

      const { row, created } = await insertInboundMessage(tx, {
        tenantId: d.tenantId,
        conversationId: null,
        wamid: d.wamid,
        waId: d.from,
        messageType: mt.type,
        body: mt.text,
        payload: d.message,
        receivedAt,
        sentBy: d.fromBusiness ? 'business' : 'customer',
      });

      let mode: 'bot' | 'human' = 'bot';
      if (created) {
        if (!d.fromBusiness) {
          const conv = await upsertContactAndConversation(tx, { tenantId: d.tenantId, waId: d.from, name: d.contactName, at: receivedAt });
          await setMessageConversation(tx, row.id, conv.id);
          mode = conv.mode;
        }
        await addUsage(tx, d.tenantId, { messages_in: 1 });
      } else {
        // A re-run (duplicate delivery, or this job retried after a crash): schedule the reply
        // again only if none was stored yet; the reply job id dedupes, the reply is idempotent.
        if (await getMessageByIdempotencyKey(tx, `reply:${d.wamid}`)) return { outcome: 'duplicate' as const };
        const [conv] = await tx<{ mode: 'bot' | 'human' }[]>`
          select mode from alphadome.bot_conversations where wa_id = ${d.from}`;
        mode = conv?.mode ?? 'bot';
      }

      if (d.fromBusiness) return { outcome: 'from_business' as const };
      if (!controls.is_active) return { outcome: 'tenant_disabled' as const };
      if (controls.bot_enabled === false) return { outcome: 'bot_disabled' as const };
      if (mode === 'human') return { outcome: 'human_mode' as const };
      if (!mt.replyable) return { outcome: 'not_replyable' as const };
      return { outcome: 'replying' as const, created };
    });

    if (decision.outcome === 'replying') {
      await deps.queues.addReply({ tenantId: d.tenantId, phoneNumberId: d.phoneNumberId, inboundWamid: d.wamid, from: d.from });
      log.info({ outcome: decision.outcome, type: mt.type, duplicate: !decision.created }, 'inbound stored; reply scheduled');
    } else {
      log.info({ outcome: decision.outcome, type: mt.type }, 'inbound stored; no reply');
    }
    return decision.outcome;
  };
}
