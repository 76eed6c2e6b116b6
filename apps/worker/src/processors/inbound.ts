import type { Job } from 'bullmq';
import {
  appendAudit,
  INBOUND_FULL_PATH,
  markHandled,
  requireInboundFastPath,
  setConversationHandover,
  storeInbound,
  withTenantPipelined,
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

    const input = {
      tenantId: d.tenantId,
      wamid: d.wamid,
      waId: d.from,
      contactName: d.contactName,
      messageType: mt.type,
      body: mt.text,
      payload: d.message,
      receivedAt,
      fromBusiness: d.fromBusiness,
    };
    type Decision =
      | { outcome: Exclude<InboundOutcome, 'replying'> }
      | { outcome: 'replying'; created: boolean; conversationId: string; debounceMs: number };

    /**
     * The common case in ONE round trip: BEGIN, the tenant, storeInbound's two statements, a
     * check that fails unless the message is new in a bot conversation of an active tenant
     * from a customer who has not opted out (then nothing else needs deciding), and COMMIT.
     * When the check fails the transaction rolls back and the message takes the full path.
     */
    const fast = async (): Promise<Decision | null> => {
      try {
        return await withTenantPipelined(deps.sql, d.tenantId, async (tx, commit) => {
          const stored = storeInbound(tx, input);
          const checked = requireInboundFastPath(tx);
          commit();
          const [s] = await Promise.all([stored, checked]);
          if (!s.controls || !s.message?.created || !s.state) throw new Error('inbound fast path: inconsistent result');
          return { outcome: 'replying' as const, created: true, conversationId: s.state.id, debounceMs: s.controls.debounce_ms ?? 2000 };
        });
      } catch (err) {
        if ((err as { code?: unknown }).code === INBOUND_FULL_PATH) return null;
        throw err;
      }
    };

    /** Everything else: store, then decide (two round trips; more for a skip or a resumed conversation). */
    const full = (): Promise<Decision> =>
      withTenantPipelined(deps.sql, d.tenantId, async (tx) => {
        const stored = await storeInbound(tx, input);
        const { controls, message } = stored;
        if (!controls || !message) return { outcome: 'unknown_tenant' as const };
        const created = message.created;
        // the business's own messages are stored handled, and counted, by storeInbound
        if (d.fromBusiness) return { outcome: 'from_business' as const };
        // A re-run (duplicate delivery, or this job retried after a crash): schedule the reply
        // again only if the message was not handled yet; the reply job dedupes and is idempotent.
        if (!created && message.handled) return { outcome: 'duplicate' as const };
        const state = stored.state;
        if (!state) throw new Error('inbound message stored without a conversation');
        const conversationId = state.id;
        const behaviour = behaviourSettings(controls.settings ?? {});

        let mode = state.mode;
        if (mode === 'human' && behaviour.handoverQuietMinutes > 0) {
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
          await markHandled(tx, message.id);
          return { outcome };
        };
        if (!controls.is_active) return skip('tenant_disabled');
        if (controls.bot_enabled === false) return skip('bot_disabled');
        if (mode === 'human') return skip('human_mode');
        if (!mt.replyable) return skip('not_replyable');
        if (state.opted_out_at) {
          // opted out: only START (or, if the tenant says so, any message) brings the customer back
          const optIn = behaviour.optinOnAnyMessage
            ? !(mt.text && isCommand(mt.text, behaviour.optoutKeywords))
            : !!mt.text && isCommand(mt.text, behaviour.optinKeywords);
          if (!optIn) return skip('opted_out');
        }
        return { outcome: 'replying' as const, created, conversationId, debounceMs: controls.debounce_ms ?? 2000 };
      });

    // a message that cannot be answered, or the business's own, goes the full path at once
    const decision: Decision = (mt.replyable && !d.fromBusiness ? await fast() : null) ?? (await full());

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
