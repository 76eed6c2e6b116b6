import type { Job } from 'bullmq';
import {
  addUsage,
  appendAudit,
  getConversationState,
  insertInboundMessage,
  isHandled,
  markHandled,
  setConversationHandover,
  setMessageConversation,
  upsertContactAndConversation,
  withTenant,
  type InboundMessageJob,
} from '@alphadome/tenant-core';
import { isCommand } from '../conversation/phrases.ts';
import { behaviourSettings } from '../conversation/settings.ts';
import type { ProcessorDeps } from '../deps.ts';
import { messageText } from '../message-text.ts';

export type InboundOutcome =
  | 'replying'
  | 'duplicate'
  | 'tenant_disabled'
  | 'bot_disabled'
  | 'human_mode'
  | 'opted_out'
  | 'from_business'
  | 'not_replyable'
  | 'unknown_tenant';

/**
 * Store the message under its tenant (idempotent on tenant + wamid), record the contact and
 * conversation, then decide whether the bot answers. The controls are read fresh here (not
 * from the context cache): switching the bot off takes effect on the very next message.
 *
 * A message the bot will not answer (bot off, a person has taken over, opted out…) is marked
 * handled at once, so it is never answered later. One to answer schedules the conversation's
 * reply job, debounced: a burst within the tenant's window gets one reply (see queues.ts).
 * A handed-over conversation returns to the bot here once nobody has replied in it for the
 * tenant's quiet period.
 */
export function inboundProcessor(deps: ProcessorDeps) {
  return async (job: Job<InboundMessageJob>): Promise<InboundOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.wamid, jobId: job.id, queue: 'inbound' });
    const mt = messageText(d.message);
    const receivedAt = new Date(d.receivedAt || Date.now());

    const decision = await withTenant(deps.sql, d.tenantId, async (tx) => {
      const [controls] = await tx<{ is_active: boolean; bot_enabled: boolean | null; debounce_ms: number | null; settings: Record<string, unknown> | null }[]>`
        select t.is_active, s.bot_enabled, s.debounce_ms, s.settings
          from alphadome.bot_tenants t left join alphadome.bot_control_settings s on s.tenant_id = t.id
         where t.id = ${d.tenantId}`;
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
      // The tenant's usage row is shared by every message of the tenant: it is raised last (and
      // pipelined with the statements before it), so its row lock is held only until COMMIT.
      if (d.fromBusiness) {
        if (created) await Promise.all([markHandled(tx, row.id), addUsage(tx, d.tenantId, { messages_in: 1 })]);
        return { outcome: 'from_business' as const };
      }

      let conversationId: string;
      let linked: Promise<void> | null = null;
      if (created) {
        const conv = await upsertContactAndConversation(tx, { tenantId: d.tenantId, waId: d.from, name: d.contactName, at: receivedAt });
        linked = setMessageConversation(tx, row.id, conv.id);
        conversationId = conv.id;
      } else {
        // A re-run (duplicate delivery, or this job retried after a crash): schedule the reply
        // again only if the message was not handled yet; the reply job dedupes and is idempotent.
        if (await isHandled(tx, d.wamid)) return { outcome: 'duplicate' as const };
        if (row.conversation_id) conversationId = row.conversation_id;
        else {
          const conv = await upsertContactAndConversation(tx, { tenantId: d.tenantId, waId: d.from, name: d.contactName, at: receivedAt });
          linked = setMessageConversation(tx, row.id, conv.id);
          conversationId = conv.id;
        }
      }
      // one round trip: link the message, read the conversation's state, count the message
      const [state] = await Promise.all([
        getConversationState(tx, { id: conversationId }),
        linked,
        created ? addUsage(tx, d.tenantId, { messages_in: 1 }) : null,
      ]);
      const behaviour = behaviourSettings(controls.settings ?? {});

      let mode = state?.mode ?? 'bot';
      if (state && mode === 'human' && behaviour.handoverQuietMinutes > 0) {
        const lastPerson = Math.max(state.mode_changed_at?.getTime() ?? 0, state.last_human_at?.getTime() ?? 0);
        if (lastPerson > 0 && Date.now() - lastPerson > behaviour.handoverQuietMinutes * 60_000) {
          if (await setConversationHandover(tx, conversationId, 'bot', null)) {
            await appendAudit(tx, {
              tenantId: d.tenantId,
              actor: 'worker',
              action: 'conversation.resumed',
              detail: { conversationId, reason: 'quiet_period', quietMinutes: behaviour.handoverQuietMinutes },
            });
          }
          mode = 'bot';
        }
      }

      const skip = async <O extends InboundOutcome>(outcome: O) => {
        await markHandled(tx, row.id);
        return { outcome };
      };
      if (!controls.is_active) return skip('tenant_disabled');
      if (controls.bot_enabled === false) return skip('bot_disabled');
      if (mode === 'human') return skip('human_mode');
      if (!mt.replyable) return skip('not_replyable');
      if (state?.opted_out_at) {
        // opted out: only START (or, if the tenant says so, any message) brings the customer back
        const optIn = behaviour.optinOnAnyMessage
          ? !(mt.text && isCommand(mt.text, behaviour.optoutKeywords))
          : !!mt.text && isCommand(mt.text, behaviour.optinKeywords);
        if (!optIn) return skip('opted_out');
      }
      return { outcome: 'replying' as const, created, conversationId, debounceMs: controls.debounce_ms ?? 2000 };
    });

    if (decision.outcome === 'replying') {
      await deps.queues.addConversationReply(
        { tenantId: d.tenantId, phoneNumberId: d.phoneNumberId, inboundWamid: d.wamid, from: d.from },
        { conversationId: decision.conversationId, debounceMs: decision.debounceMs },
      );
      log.info({ outcome: decision.outcome, type: mt.type, duplicate: !decision.created, debounceMs: decision.debounceMs }, 'inbound stored; reply scheduled');
    } else {
      log.info({ outcome: decision.outcome, type: mt.type }, 'inbound stored; no reply');
    }
    return decision.outcome;
  };
}
