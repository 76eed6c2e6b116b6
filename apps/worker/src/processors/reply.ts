import type { Job } from 'bullmq';
import {
  addSkippedForBudget,
  addUsage,
  appendAudit,
  CLAIM_CONFLICT,
  claimUnhandled,
  claimUnhandledOrFail,
  defaultTenantSettings,
  faqLanguages,
  foreignTenantMarkers,
  getConversationState,
  insertOutboundMessageOnce,
  listFaqForGrounding,
  listQueuedOutbound,
  listUnhandledInboundByWaId,
  monthlyTokens,
  recentHandledWamids,
  recordBudgetEvent,
  searchFaq,
  setAwayPeriod,
  setContactLanguage,
  setContactOptOut,
  setConversationHandover,
  setInboundBody,
  turnsBefore,
  withTenant,
  withTenantOneTrip,
  withTenantPipelined,
  type AnswerPath,
  type ConversationState,
  type FaqSearchResult,
  type MessageRow,
  type TenantContext,
  type Tx,
  type UsageDelta,
} from '@alphadome/tenant-core';
import { textMessage, type OutboundMessagePayload } from '@alphadome/whatsapp';
import { budgetState, estimateCostUsd } from '../conversation/budget.ts';
import { hoursStatus, parseSchedule } from '../conversation/business-hours.ts';
import { detectLanguage, preferredLanguages, type Language } from '../conversation/language.ts';
import { mediaAcknowledgement, systemText } from '../conversation/media.ts';
import { budgetNotice, conversationLink, handoverNotice, phoneDigits } from '../conversation/notify.ts';
import { guardAnswer, linkHosts } from '../conversation/output-guard.ts';
import { containsPhrase, isCommand } from '../conversation/phrases.ts';
import { behaviourOf, type BehaviourSettings } from '../conversation/settings.ts';
import type { ProcessorDeps } from '../deps.ts';
import { audioMedia, interactiveReplyId, messageText } from '../message-text.ts';
import type { ReplyJob } from '../queues.ts';
import { catalogAnswer, closestProducts, prependText, productGroundingLine, productTapAnswer } from '../reply/catalog.ts';
import { chooseReply, type ChosenReply } from '../reply/choose-reply.ts';

export type ReplyOutcome = 'sent' | 'already_replied' | 'skipped' | 'unknown_tenant';

/** Prefixes of the idempotency keys a reply job writes, each followed by the last wamid it covers. */
const KEY_KINDS = ['reply', 'notify'] as const;
const FOREIGN_MARKERS_TTL_MS = 5 * 60_000;

interface Outbound {
  key: string;
  to: string;
  body: string;
  path: AnswerPath;
  conversationId: string | null;
  replyTo: string | null;
  templateId?: string | null;
  faqId?: string | null;
  /** a message other than text (catalog answers); `body` is what it says, for the log */
  payload?: OutboundMessagePayload | undefined;
}

interface Plan {
  /** to the customer (null: stay silent) */
  reply: { body: string; path: AnswerPath; templateId?: string | null; faqId?: string | null; payload?: OutboundMessagePayload | undefined } | null;
  chosen?: ChosenReply;
  handoverReason?: string;
  optOut?: boolean;
  optIn?: boolean;
  awayPeriod?: string;
  language?: Language;
  budgetExhausted?: boolean;
  transcripts?: { id: string; text: string }[];
}

/**
 * Answer every unhandled message of one conversation with one reply (a burst within the
 * debounce window arrives here together). Order: opt-out/in → handover request → business
 * hours → media → canned | FAQ | LLM (budget, output guard) | fallback + handover.
 *
 * Nothing is written until the answer is chosen; then one transaction claims the messages
 * (all still unhandled, or this job backs off: someone else answered), stores the reply
 * (idempotent on 'reply:' + the last wamid covered) and the escalation notice, and applies
 * the state changes. LLM failures throw while attempts remain (BullMQ backs off and retries);
 * the last attempt answers with the tenant's fallback reply instead: no silence.
 */
export function replyProcessor(deps: ProcessorDeps) {
  return async (job: Job<ReplyJob>): Promise<ReplyOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.inboundWamid, jobId: job.id, queue: 'reply' });

    const ctx = await deps.contexts.get(d.tenantId);
    if (!ctx) return 'unknown_tenant';
    const behaviour = behaviourOf(ctx);

    // One round trip: the conversation's state and its unhandled messages (by the customer's
    // wa_id, so neither waits for the other), this month's tokens if the tenant has a budget.
    // Templates, time zone and business hours come with the cached tenant context; the history
    // for the LLM is read only when the LLM is asked (chooseReply's `turns`).
    const budgeted = (ctx.settings.monthlyTokenBudget ?? 0) > 0;
    const loaded = await withTenantPipelined(deps.sql, d.tenantId, async (tx, commit) => {
      const reads = Promise.all([
        getConversationState(tx, { waId: d.from }),
        listUnhandledInboundByWaId(tx, d.from),
        budgeted ? monthlyTokens(tx) : 0,
      ]);
      commit();
      const [conv, batch, tokensUsed] = await reads;
      return conv ? { conv, batch, tokensUsed } : null;
    });
    if (!loaded) {
      log.warn('conversation not found; nothing to answer');
      return 'skipped';
    }
    const { conv, batch } = loaded;
    if (batch.length === 0) {
      // answered by an earlier run of this job (or a sibling): make sure its messages are on their way
      const queued = await withTenant(deps.sql, d.tenantId, async (tx) => {
        const recent = await recentHandledWamids(tx, conv.id);
        return listQueuedOutbound(tx, recent.flatMap((w) => KEY_KINDS.map((k) => `${k}:${w}`)));
      });
      await enqueueSends(deps, d.tenantId, queued);
      return 'already_replied';
    }
    const lastWamid = batch.at(-1)!.wamid ?? d.inboundWamid;

    if (!ctx.isActive || !ctx.settings.botEnabled || conv.mode === 'human') {
      await withTenant(deps.sql, d.tenantId, (tx) => claimUnhandled(tx, batch.map((m) => m.id)));
      log.info({ mode: conv.mode }, 'bot off or conversation taken over; no reply');
      return 'skipped';
    }

    const attempts = job.opts.attempts ?? 1;
    const finalAttempt = job.attemptsMade + 1 >= attempts;
    const plan = await planReply({
      deps,
      ctx,
      behaviour,
      conv,
      batch,
      tokensUsed: loaded.tokensUsed,
      lastWamid,
      finalAttempt,
      log,
    });

    // ---- write: claim the messages, store what goes out, apply the state changes ----
    const outbound: Outbound[] = [];
    const month = new Date().toISOString().slice(0, 7);
    const escalation = ctx.settings.escalationPhone ? phoneDigits(ctx.settings.escalationPhone) : null;
    // The claim (conversation locked, then every message of the batch still unhandled, or it
    // fails) goes first; everything after it is pipelined behind it and COMMIT behind them: a
    // canned reply's whole write is one round trip. A failed claim aborts the transaction, so
    // nothing after it is written.
    const write = withTenantPipelined(deps.sql, d.tenantId, async (tx, commit) => {
      const claim = claimUnhandledOrFail(tx, conv.id, batch.map((m) => m.id));
      claim.catch(() => {}); // awaited below
      try {
        // Writes whose results are not needed are pipelined (sent in order, awaited together
        // before the outbound rows are stored); a failure still aborts the whole transaction.
        const pending: Promise<unknown>[] = [];
        const pipe = (p: Promise<unknown>) => {
          p.catch(() => {}); // awaited below; never an unhandled rejection if an earlier await throws
          pending.push(p);
        };
        for (const t of plan.transcripts ?? []) pipe(setInboundBody(tx, t.id, t.text));
        if (plan.language && plan.language !== conv.contact_language) pipe(setContactLanguage(tx, conv.contact_id, plan.language));
        if (plan.optOut) {
          await setContactOptOut(tx, conv.contact_id, true);
          await appendAudit(tx, { tenantId: d.tenantId, actor: 'worker', action: 'contact.opted_out', detail: { conversationId: conv.id } });
        } else if (plan.optIn) {
          await setContactOptOut(tx, conv.contact_id, false);
          await appendAudit(tx, { tenantId: d.tenantId, actor: 'worker', action: 'contact.opted_in', detail: { conversationId: conv.id } });
        }
        if (plan.awayPeriod) await setAwayPeriod(tx, conv.id, plan.awayPeriod);
        if (plan.reply) {
          outbound.push({ key: `reply:${lastWamid}`, to: conv.wa_id, conversationId: conv.id, replyTo: lastWamid, ...plan.reply });
        }
        if (plan.handoverReason && (await setConversationHandover(tx, conv.id, 'human', plan.handoverReason))) {
          await appendAudit(tx, {
            tenantId: d.tenantId,
            actor: 'worker',
            action: 'conversation.handover',
            detail: { conversationId: conv.id, wamid: lastWamid, reason: plan.handoverReason, notified: !!escalation },
          });
          if (escalation) {
            const lastText = [...batch].reverse().find((m) => m.body)?.body ?? null;
            outbound.push({
              key: `notify:${lastWamid}`,
              to: escalation,
              conversationId: null,
              replyTo: null,
              path: 'system',
              body: handoverNotice({
                business: ctx.name,
                reason: plan.handoverReason,
                customerName: conv.contact_name,
                customerWaId: conv.wa_id,
                lastMessage: lastText,
                link: conversationLink(deps.publicDashboardUrl, conv.id),
              }),
            });
          }
        }
        // usage: answers by path, tokens and their estimated cost
        const c = plan.chosen;
        const usage: UsageDelta = {};
        if (plan.reply && ['canned', 'catalog', 'faq', 'llm', 'fallback'].includes(plan.reply.path)) usage[`answers_${plan.reply.path}` as keyof UsageDelta] = 1;
        if (c?.promptTokens !== undefined || c?.completionTokens !== undefined) {
          usage.prompt_tokens = c.promptTokens ?? 0;
          usage.completion_tokens = c.completionTokens ?? 0;
          usage.cost_estimate_usd = estimateCostUsd(c.model ?? ctx.model ?? deps.platformModel, usage.prompt_tokens, usage.completion_tokens);
        }
        pipe(addUsage(tx, d.tenantId, usage));
        // budget: alert at 80 % once a month, record exhaustion once a month
        const budget = ctx.settings.monthlyTokenBudget;
        if (budget !== null && budget > 0) {
          const used = loaded.tokensUsed! + (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
          const events: ('alert_80' | 'exhausted')[] = [];
          if (plan.budgetExhausted) {
            await addSkippedForBudget(tx, d.tenantId);
            events.push('exhausted');
          } else if (budgetState(used, budget) !== 'ok') events.push('alert_80');
          for (const kind of events) {
            if (!(await recordBudgetEvent(tx, d.tenantId, kind, used, budget))) continue;
            await appendAudit(tx, { tenantId: d.tenantId, actor: 'worker', action: kind === 'exhausted' ? 'budget.exhausted' : 'budget.alert_80', detail: { used, budget, month } });
            if (escalation) {
              outbound.push({ key: `budget-${kind}:${month}`, to: escalation, conversationId: null, replyTo: null, path: 'system', body: budgetNotice(ctx.name, kind, used, budget) });
            }
          }
        }
        const stored = outbound.map((o) => {
          // the full Graph payload is stored; the send processor sends it as it is
          const payload = o.payload ?? textMessage(o.to, o.body, o.replyTo ? { replyToWamid: o.replyTo } : undefined);
          return insertOutboundMessageOnce(tx, {
            tenantId: d.tenantId,
            conversationId: o.conversationId,
            idempotencyKey: o.key,
            waId: o.to,
            messageType: payload.type,
            body: payload.type === 'text' ? payload.text.body : o.body,
            payload: payload as unknown as Record<string, unknown>,
            answerPath: o.path,
            templateId: o.templateId ?? null,
            faqId: o.faqId ?? null,
            replyToWamid: o.replyTo,
          });
        });
        commit();
        await claim;
        const [results] = await Promise.all([Promise.all(stored), Promise.all(pending)]);
        const created = outbound.filter((o, i) => {
          const res = results[i]!;
          return res.created || !res.row || (!res.row.wamid && res.row.status !== 'failed');
        }).map((o) => o.key);
        return { claimed: true as const, keys: created };
      } catch (err) {
        // whatever failed first, a failed claim is the reason
        const claimErr = await claim.then(() => null, (e: unknown) => e);
        throw claimErr ?? err;
      }
    });
    const result = await write.catch((err: unknown) => {
      if ((err as { code?: unknown }).code === CLAIM_CONFLICT) return { claimed: false as const };
      throw err;
    });
    if (!result.claimed) {
      log.info({ messages: batch.length }, 'messages already handled by another job; no reply');
      return 'already_replied';
    }
    if (plan.reply) deps.metrics.replyPaths.inc({ path: plan.reply.path });
    await enqueueSends(deps, d.tenantId, result.keys);
    log.info(
      {
        path: plan.reply?.path ?? 'silent',
        messages: batch.length,
        templateId: plan.reply?.templateId ?? undefined,
        faqId: plan.reply?.faqId ?? undefined,
        reason: plan.chosen?.reason ?? plan.handoverReason,
        language: plan.language,
        handover: plan.handoverReason !== undefined,
      },
      plan.reply ? 'reply stored; send scheduled' : 'messages handled; no reply',
    );
    return plan.reply ? 'sent' : 'skipped';
  };
}

/** Hand stored outbound messages to the send queue (idempotent: the send job id is the key). */
async function enqueueSends(deps: ProcessorDeps, tenantId: string, keys: readonly string[]): Promise<void> {
  for (const idempotencyKey of keys) {
    await deps.queues.addSend({ tenantId, idempotencyKey });
  }
}

async function foreignMarkersOf(deps: ProcessorDeps, tx: Tx, tenantId: string): Promise<string[]> {
  const hit = deps.foreignMarkers?.get(tenantId);
  if (hit && Date.now() - hit.at < FOREIGN_MARKERS_TTL_MS) return hit.markers;
  const markers = await foreignTenantMarkers(tx, tenantId);
  deps.foreignMarkers?.set(tenantId, { at: Date.now(), markers });
  return markers;
}

interface PlanInput {
  deps: ProcessorDeps;
  ctx: TenantContext;
  behaviour: BehaviourSettings;
  conv: ConversationState;
  batch: MessageRow[];
  /** this month's tokens (0 when the tenant has no budget) */
  tokensUsed: number;
  lastWamid: string;
  finalAttempt: boolean;
  log: ProcessorDeps['logger'];
}

async function planReply(p: PlanInput): Promise<Plan> {
  const { deps, ctx, behaviour, conv, batch } = p;
  // system templates, time zone and business hours: from the cached tenant context
  const templates = ctx.systemTemplates;
  const template = (kind: string, lang: Language) => {
    for (const l of preferredLanguages(lang)) {
      const t = templates.find((x) => x.kind === kind && x.language === l);
      if (t) return t;
    }
    return null;
  };

  // 1. opt-out / opt-in, message by message in order
  let optedOut = conv.opted_out_at !== null;
  let confirmOut = false;
  let confirmIn = false;
  let remaining: MessageRow[] = [];
  for (const m of batch) {
    const text = m.body ?? '';
    if (text && isCommand(text, behaviour.optoutKeywords)) {
      if (!optedOut) confirmOut = true;
      optedOut = true;
      confirmIn = false;
      remaining = [];
      continue;
    }
    if (optedOut) {
      if (text && isCommand(text, behaviour.optinKeywords)) {
        optedOut = false;
        confirmIn = true;
        confirmOut = false;
        continue;
      }
      if (behaviour.optinOnAnyMessage) {
        optedOut = false;
        confirmOut = false;
        remaining.push(m);
      }
      continue;
    }
    remaining.push(m);
  }
  const wasOut = conv.opted_out_at !== null;
  const texts0 = remaining.map((m) => m.body ?? '').filter((t) => t.trim() !== '');
  const language: Language = detectLanguage([...texts0, ...batch.map((m) => m.body ?? '')].join('\n')) ?? ((conv.contact_language as Language | null) ?? 'en');
  if (optedOut) {
    if (!confirmOut) return { reply: null, language };
    const t = template('optout', language);
    return { reply: { body: t?.body ?? systemText('optout', language), path: 'system', templateId: t?.id ?? null }, optOut: true, language };
  }
  const optIn = wasOut && !optedOut;
  if (remaining.length === 0) {
    return confirmIn ? { reply: { body: systemText('optin', language), path: 'system' }, optIn, language } : { reply: null, optIn, language };
  }

  // 2. voice notes → text (when the tenant enabled it)
  const transcripts: { id: string; text: string }[] = [];
  let unclearAudio = false;
  for (const m of remaining) {
    if (m.body) continue;
    const audio = audioMedia((m.payload ?? {}) as Record<string, unknown>);
    if (!audio) continue;
    const text = await transcribe(p, audio);
    if (text) {
      transcripts.push({ id: m.id, text });
      m.body = text;
    } else if (text === '') unclearAudio = true;
  }
  const texts = remaining.map((m) => m.body ?? '').filter((t) => t.trim() !== '');
  const base = { optIn, language, transcripts };

  // 3. the customer asks for a person
  if (texts.some((t) => containsPhrase(t, behaviour.handoverPhrases))) {
    const t = template('handover', language);
    // the tenant's own handover text wins; the built-in one only replaces the platform default
    const builtIn = !ctx.handover.id && ctx.settings.handoverMessage === defaultTenantSettings.handoverMessage;
    const body = t?.body ?? (builtIn ? systemText('handover', language) : ctx.handover.body);
    return { ...base, reply: { body, path: 'system', templateId: t?.id ?? ctx.handover.id }, handoverReason: 'customer_request' };
  }

  const lastMedia = remaining.at(-1)!;
  const mediaType = unclearAudio && lastMedia.message_type === 'audio' ? 'audio_unclear' : messageText((lastMedia.payload ?? {}) as Record<string, unknown>).type;
  // a tap on a catalog list row (`product:<uuid>`) in the last message opens that product
  const tappedId = interactiveReplyId((lastMedia.payload ?? {}) as Record<string, unknown>);
  let foreign: string[] = [];
  // What only the LLM step reads — FAQ entries to ground on when the search found fewer than 3,
  // the history, other tenants' markers (output guard) — in one round trip, on first use.
  let llmReads: Promise<[Awaited<ReturnType<typeof listFaqForGrounding>>, Awaited<ReturnType<typeof turnsBefore>>, string[]]> | null = null;
  const readForLlm = () =>
    (llmReads ??= withTenantOneTrip(deps.sql, ctx.tenantId, (tx) =>
      Promise.all([listFaqForGrounding(tx), turnsBefore(tx, conv.id, batch[0]!.created_at), foreignMarkersOf(deps, tx, ctx.tenantId)]),
    ));
  // read-only helpers: withTenantPipelined saves BEGIN's round trip (COMMIT goes with the last read)
  const faqSearch = (text: string) => withTenantPipelined(deps.sql, ctx.tenantId, (tx) => searchFaqPreferring(tx, text, language));
  const choose = (extra: { faqOnly?: boolean; llmAllowed?: boolean }) =>
    chooseReply({
      ctx,
      text: texts.join('\n'),
      texts,
      language,
      searchFaq: faqSearch,
      productTap: () => productTapAnswer(deps, ctx, conv.wa_id, tappedId, p.lastWamid),
      searchCatalog: (text) => catalogAnswer(deps, ctx, conv.wa_id, text, p.lastWamid),
      productGrounding: async () => (await closestProducts(deps, ctx.tenantId, texts.join('\n'))).map((h) => productGroundingLine(h, ctx.currency)),
      extraGrounding: async () => (await readForLlm())[0],
      turns: async () => {
        const [, turns, markers] = await readForLlm();
        foreign = markers;
        return turns;
      },
      llm: deps.llm,
      platformApiKey: deps.platformApiKey,
      platformModel: deps.platformModel,
      guard: (answer, prompt) =>
        guardAnswer({
          answer,
          instructions: prompt.instructions,
          faqQuestions: prompt.grounding.map((g) => g.question),
          foreignMarkers: foreign,
          allowedHosts: [
            ...behaviour.allowedUrlHosts,
            ...linkHosts([ctx.settings.systemPrompt, ...prompt.grounding.map((g) => g.answer)].join('\n')),
          ],
        }),
      beforeLlm: async () => {
        const token = ctx.secrets.whatsappToken;
        const phone = ctx.phoneNumberId;
        if (!token || !phone) return;
        try {
          await deps.graph.markRead(phone, token, p.lastWamid, { typing: true });
        } catch (err) {
          p.log.debug({ code: (err as { code?: unknown }).code }, 'mark-read failed (ignored)');
        }
      },
      throwOnLlmError: !p.finalAttempt,
      ...extra,
    });

  // 4. business hours: the away message once per closed period, FAQ answers if allowed
  const hours = hoursStatus(parseSchedule(ctx.businessHours), ctx.timezone);
  if (!hours.open && hours.closedPeriod) {
    const first = conv.away_period !== hours.closedPeriod;
    const t = template('away', language);
    const away = t?.body ?? (ctx.settings.awayMessage.trim() || systemText('away', language));
    let answer: ChosenReply | null = null;
    if (texts.length > 0 && behaviour.answerFaqWhenClosed) answer = await choose({ faqOnly: true });
    if (answer) answer = localise(ctx, answer, language);
    if (answer?.payload) {
      // a catalog answer keeps its form; the away message goes before what it says
      const payload = first ? prependText(answer.payload, away) : answer.payload;
      return {
        ...base,
        reply: { body: first ? `${away}\n\n${answer.body}` : answer.body, path: answer.path, templateId: first ? t?.id ?? null : null, payload },
        chosen: answer,
        awayPeriod: hours.closedPeriod,
      };
    }
    const parts = [first ? away : null, answer?.body ?? (texts.length === 0 && !first ? mediaAcknowledgement(mediaType, language) : null)].filter(
      (x): x is string => !!x,
    );
    if (parts.length === 0) return { ...base, reply: null, awayPeriod: hours.closedPeriod };
    return {
      ...base,
      reply: { body: parts.join('\n\n'), path: answer?.path ?? 'system', templateId: answer?.templateId ?? (first ? t?.id ?? null : null), faqId: answer?.faqId ?? null },
      ...(answer ? { chosen: answer } : {}),
      awayPeriod: hours.closedPeriod,
    };
  }

  // 5. nothing to read: acknowledge the media
  if (texts.length === 0) {
    return { ...base, reply: { body: mediaAcknowledgement(mediaType, language), path: 'system' } };
  }

  // 6. canned | FAQ | LLM | fallback
  const budgetExhausted = budgetState(p.tokensUsed, ctx.settings.monthlyTokenBudget) === 'exhausted';
  const started = Date.now();
  let chosen: ChosenReply;
  try {
    chosen = (await choose({ llmAllowed: !budgetExhausted }))!;
  } catch (err) {
    deps.metrics.llmDuration.observe({ outcome: 'error' }, (Date.now() - started) / 1000);
    p.log.warn({ err: (err as Error).message }, 'LLM failed; will retry');
    throw err;
  }
  if (chosen.promptTokens !== undefined) deps.metrics.llmDuration.observe({ outcome: 'ok' }, (Date.now() - started) / 1000);
  if (chosen.reason?.startsWith('guard_')) p.log.warn({ reason: chosen.reason }, 'LLM answer refused by the output guard; fallback');
  chosen = localise(ctx, chosen, language);
  const handover =
    chosen.handover && (behaviour.handoverOnNoAnswer && ctx.settings.escalationPhone ? true : false) ? chosen.reason ?? 'no_answer' : undefined;
  return {
    ...base,
    reply: { body: chosen.body, path: chosen.path, templateId: chosen.templateId ?? null, faqId: chosen.faqId ?? null, payload: chosen.payload },
    chosen,
    ...(handover ? { handoverReason: handover } : {}),
    ...(chosen.reason === 'budget_exhausted' ? { budgetExhausted: true } : {}),
  };
}

/** Swap a canned or fallback reply for the tenant's variant in the customer's language, if any. */
function localise(ctx: TenantContext, c: ChosenReply, lang: Language): ChosenReply {
  if (lang === 'mixed') return c;
  if (c.path === 'canned' && c.templateId) {
    const name = ctx.canned.find((t) => t.id === c.templateId)?.name;
    const variant = name ? ctx.canned.find((t) => t.name === name && t.language === lang) : undefined;
    if (variant && variant.id !== c.templateId) return { ...c, body: variant.body, templateId: variant.id };
  }
  if (c.path === 'fallback') {
    const variant = ctx.systemTemplates.find((t) => t.kind === 'fallback' && t.language === lang);
    if (variant) return { ...c, body: variant.body, templateId: variant.id };
  }
  return c;
}

/**
 * FAQ search preferring entries in the customer's language: a same-language entry that
 * clearly matches wins even when its other-language twin scores close to it.
 */
async function searchFaqPreferring(tx: Tx, text: string, lang: Language): Promise<FaqSearchResult> {
  const res = await searchFaq(tx, text, { limit: 8 });
  const top = res.candidates[0];
  if (lang === 'mixed' || !top) return { ...res, candidates: res.candidates.slice(0, 5) };
  const langs = await faqLanguages(tx, res.candidates.map((c) => c.id));
  const same = res.candidates.filter((c) => (langs.get(c.id) ?? 'en') === lang);
  const other = res.candidates.filter((c) => (langs.get(c.id) ?? 'en') !== lang);
  const [s1, s2] = same;
  const clear = s1 !== undefined && s1.score >= 0.55 && (s2 === undefined || s1.score - s2.score >= 0.12) && s1.score >= top.score - 0.25;
  if (clear) return { candidates: [...same, ...other].slice(0, 5), clear: true };
  return { ...res, candidates: res.candidates.slice(0, 5) };
}

/** Download a voice note from Meta and transcribe it; null when not enabled, '' when it failed. */
async function transcribe(p: PlanInput, audio: { id: string; mimeType: string }): Promise<string | null> {
  const { deps, ctx, behaviour } = p;
  const token = ctx.secrets.whatsappToken;
  const apiKey = ctx.secrets.openaiKey ?? deps.platformApiKey;
  if (!behaviour.transcribeVoice || !deps.transcribe || !token || !apiKey) return null;
  try {
    const media = await deps.graph.getMediaUrl(audio.id, token);
    const bytes = await deps.graph.downloadMedia(media.url, token, { maxBytes: 25 * 1024 * 1024 });
    const text = await deps.transcribe({
      apiKey,
      model: behaviour.transcriptionModel,
      timeoutMs: Math.max(ctx.settings.llmTimeoutMs, 30_000),
      audio: bytes,
      mimeType: media.mimeType ?? audio.mimeType,
    });
    return text.trim();
  } catch (err) {
    p.log.warn({ err: (err as Error).message, code: (err as { code?: unknown }).code }, 'voice note could not be transcribed; acknowledged instead');
    return '';
  }
}
