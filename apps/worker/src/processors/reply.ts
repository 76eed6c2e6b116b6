import type { Job } from 'bullmq';
import {
  addUsage,
  getMessageByIdempotencyKey,
  getMessageByWamid,
  insertOutboundMessage,
  listFaqForGrounding,
  recentTurns,
  searchFaq,
  withTenant,
  type MessageRow,
  type UsageDelta,
} from '@alphadome/tenant-core';
import { textMessage } from '@alphadome/whatsapp';
import type { ProcessorDeps } from '../deps.ts';
import { messageText } from '../message-text.ts';
import type { ReplyJob } from '../queues.ts';
import { chooseReply, type ChosenReply } from '../reply/choose-reply.ts';

export type ReplyOutcome = 'sent' | 'already_replied' | 'skipped' | 'unknown_tenant';

const mediaAck = (type: string) =>
  `Thank you, we received your ${type === 'contacts' ? 'contact card' : type}. A person from our team will look at it and get back to you.`;

/**
 * Choose the reply to one customer message, store it (idempotent on 'reply:' + inbound wamid)
 * and hand it to the send queue. LLM failures throw while attempts remain (BullMQ backs off and
 * retries); the last attempt answers with the tenant's fallback reply instead: no silence.
 */
export function replyProcessor(deps: ProcessorDeps) {
  return async (job: Job<ReplyJob>): Promise<ReplyOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.inboundWamid, jobId: job.id, queue: 'reply' });
    const idempotencyKey = `reply:${d.inboundWamid}`;

    const ctx = await deps.contexts.get(d.tenantId);
    if (!ctx) return 'unknown_tenant';

    const state = await withTenant(deps.sql, d.tenantId, async (tx) => {
      const existing = await getMessageByIdempotencyKey(tx, idempotencyKey);
      if (existing) return { existing };
      const inbound = await getMessageByWamid(tx, d.inboundWamid);
      if (!inbound || !inbound.conversation_id) return { inbound: null };
      const [conv] = await tx<{ mode: 'bot' | 'human' }[]>`
        select mode from alphadome.bot_conversations where id = ${inbound.conversation_id}`;
      const turns = await recentTurns(tx, inbound.conversation_id, { limit: 6, excludeId: inbound.id });
      return { inbound, mode: conv?.mode ?? 'bot', turns };
    });

    if (state.existing) {
      // stored on an earlier attempt: make sure it is on its way, never choose or send twice
      if (!state.existing.wamid && state.existing.status !== 'failed') await deps.queues.addSend({ tenantId: d.tenantId, idempotencyKey });
      return 'already_replied';
    }
    const inbound: MessageRow | null = state.inbound;
    if (!inbound || !state.turns) {
      log.warn('inbound message not found; nothing to answer');
      return 'skipped';
    }
    if (!ctx.isActive || !ctx.settings.botEnabled || state.mode === 'human') {
      log.info({ mode: state.mode }, 'bot off or conversation taken over; no reply');
      return 'skipped';
    }

    const mt = messageText((inbound.payload ?? {}) as Record<string, unknown>);
    const attempts = job.opts.attempts ?? 1;
    const finalAttempt = job.attemptsMade + 1 >= attempts;
    let chosen: ChosenReply;
    if (!mt.text) {
      chosen = { path: 'fallback', body: mediaAck(mt.type), handover: true, reason: 'media_ack' };
    } else {
      const text = mt.text;
      const started = Date.now();
      try {
        chosen = await chooseReply({
          ctx,
          text,
          searchFaq: (t) => withTenant(deps.sql, d.tenantId, (tx) => searchFaq(tx, t)),
          extraGrounding: () => withTenant(deps.sql, d.tenantId, (tx) => listFaqForGrounding(tx)),
          turns: state.turns,
          llm: deps.llm,
          platformApiKey: deps.platformApiKey,
          platformModel: deps.platformModel,
          beforeLlm: async () => {
            const token = ctx.secrets.whatsappToken;
            const phone = ctx.phoneNumberId ?? d.phoneNumberId;
            if (!token) return;
            try {
              await deps.graph.markRead(phone, token, d.inboundWamid, { typing: true });
            } catch (err) {
              log.debug({ code: (err as { code?: unknown }).code }, 'mark-read failed (ignored)');
            }
          },
          throwOnLlmError: !finalAttempt,
        });
      } catch (err) {
        deps.metrics.llmDuration.observe({ outcome: 'error' }, (Date.now() - started) / 1000);
        log.warn({ attempt: job.attemptsMade + 1, attempts, err: (err as Error).message }, 'LLM failed; will retry');
        throw err;
      }
      if (chosen.path === 'llm' || chosen.promptTokens !== undefined) {
        deps.metrics.llmDuration.observe({ outcome: 'ok' }, (Date.now() - started) / 1000);
      }
    }

    const payload = textMessage(d.from, chosen.body, { replyToWamid: d.inboundWamid });
    const created = await withTenant(deps.sql, d.tenantId, async (tx) => {
      const res = await insertOutboundMessage(tx, {
        tenantId: d.tenantId,
        conversationId: inbound.conversation_id,
        idempotencyKey,
        waId: d.from,
        messageType: 'text',
        body: payload.text.body,
        payload: payload as unknown as Record<string, unknown>,
        answerPath: chosen.path,
        templateId: chosen.templateId ?? null,
        faqId: chosen.faqId ?? null,
        replyToWamid: d.inboundWamid,
      });
      if (!res.created) return false;
      const usage: UsageDelta = { [`answers_${chosen.path}`]: 1 };
      usage.prompt_tokens = chosen.promptTokens ?? 0;
      usage.completion_tokens = chosen.completionTokens ?? 0;
      await addUsage(tx, d.tenantId, usage);
      if (chosen.handover) {
        await tx`insert into alphadome.bot_audit_log (tenant_id, actor, action, detail)
                 values (${d.tenantId}, 'worker', 'conversation.handover',
                         ${tx.json({ conversationId: inbound.conversation_id, wamid: d.inboundWamid, reason: chosen.reason ?? null })})`;
      }
      return true;
    });
    if (created) deps.metrics.replyPaths.inc({ path: chosen.path });
    await deps.queues.addSend({ tenantId: d.tenantId, idempotencyKey });
    log.info(
      { path: chosen.path, templateId: chosen.templateId ?? undefined, faqId: chosen.faqId ?? undefined, reason: chosen.reason, created },
      'reply stored; send scheduled',
    );
    return created ? 'sent' : 'already_replied';
  };
}
