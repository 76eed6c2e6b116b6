import type { FaqCandidate, FaqSearchResult, TenantContext, Turn } from '@alphadome/tenant-core';
import type { ChatTurn, LlmClient } from '../llm.ts';
import { matchCanned } from './canned-match.ts';

/** What the model is told to say when the grounding does not answer the customer. */
export const HANDOVER = 'HANDOVER';

export type ReplyPath = 'canned' | 'faq' | 'llm' | 'fallback';

export interface ChosenReply {
  path: ReplyPath;
  body: string;
  templateId?: string | null;
  faqId?: string | null;
  promptTokens?: number;
  completionTokens?: number;
  /** a person should take over (LLM said HANDOVER, failed, or no LLM is configured) */
  handover?: boolean;
  reason?: string;
}

export interface ChooseReplyInput {
  ctx: TenantContext;
  text: string;
  searchFaq: (text: string) => Promise<FaqSearchResult>;
  /** FAQ entries to ground the LLM with when search finds few */
  extraGrounding?: () => Promise<{ id: string; question: string; answer: string }[]>;
  turns: readonly Turn[];
  llm: LlmClient | null;
  platformApiKey?: string | undefined;
  platformModel: string;
  /** called once just before the (slow) LLM call: mark read + typing indicator */
  beforeLlm?: () => Promise<void>;
  /** false on the final attempt: an LLM failure then becomes the fallback reply instead of an error */
  throwOnLlmError: boolean;
}

const GROUNDING_SIZE = 5;
const HISTORY_TURNS = 6;

/** canned trigger → clear FAQ match → LLM grounded in the FAQ → fallback. */
export async function chooseReply(input: ChooseReplyInput): Promise<ChosenReply> {
  const { ctx, text } = input;
  const canned = matchCanned(text, ctx.canned);
  if (canned) return { path: 'canned', body: canned.template.body, templateId: canned.template.id };

  const faq = await input.searchFaq(text);
  const top = faq.candidates[0];
  if (faq.clear && top) return { path: 'faq', body: top.answer, faqId: top.id };

  const apiKey = ctx.secrets.openaiKey ?? input.platformApiKey;
  if (!input.llm || !apiKey) return fallback(ctx, 'no_llm_configured');

  let grounding: Pick<FaqCandidate, 'id' | 'question' | 'answer'>[] = faq.candidates.slice(0, GROUNDING_SIZE);
  if (grounding.length < 3 && input.extraGrounding) {
    const seen = new Set(grounding.map((g) => g.id));
    grounding = [...grounding, ...(await input.extraGrounding()).filter((g) => !seen.has(g.id))].slice(0, GROUNDING_SIZE + 3);
  }
  const messages = buildLlmMessages(ctx, grounding, input.turns, text);
  await input.beforeLlm?.().catch(() => undefined);
  let answer;
  try {
    answer = await input.llm({ apiKey, model: ctx.model ?? input.platformModel, timeoutMs: ctx.settings.llmTimeoutMs, messages });
  } catch (err) {
    if (input.throwOnLlmError) throw err;
    return fallback(ctx, `llm_${(err as { kind?: string }).kind ?? 'error'}`);
  }
  const usage = { promptTokens: answer.promptTokens, completionTokens: answer.completionTokens };
  if (answer.text.toUpperCase().includes(HANDOVER)) return { ...fallback(ctx, 'llm_handover'), ...usage };
  return { path: 'llm', body: answer.text, ...usage };
}

function fallback(ctx: TenantContext, reason: string): ChosenReply {
  return { path: 'fallback', body: ctx.fallback.body, templateId: ctx.fallback.id, handover: true, reason };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function buildLlmMessages(
  ctx: TenantContext,
  grounding: readonly { question: string; answer: string }[],
  turns: readonly Turn[],
  text: string,
): ChatTurn[] {
  const intro = ctx.settings.systemPrompt.trim() || `You are the WhatsApp customer-service assistant of ${ctx.name}.`;
  const system = [
    intro,
    ctx.settings.tone.trim() ? `Tone: ${ctx.settings.tone.trim()}` : '',
    'Answer only from the business information below and this conversation; never invent prices, stock, dates or policies.',
    'Keep answers short and friendly, suitable for WhatsApp, in the language the customer writes in.',
    `If the information below does not answer the customer, or you are unsure, reply with exactly ${HANDOVER} and nothing else.`,
    '',
    'Business information (FAQ):',
    ...(grounding.length > 0 ? grounding.flatMap((g) => [`Q: ${oneLine(g.question)}`, `A: ${oneLine(g.answer)}`]) : ['(none)']),
  ]
    .filter((l, i, all) => l !== '' || all[i - 1] !== '')
    .join('\n');
  const history: ChatTurn[] = turns.slice(-HISTORY_TURNS).map((t) => ({
    role: t.direction === 'inbound' ? 'user' : 'assistant',
    content: t.body,
  }));
  return [{ role: 'system', content: system }, ...history, { role: 'user', content: text }];
}
