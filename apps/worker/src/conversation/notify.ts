/**
 * Texts sent to a tenant's escalation contact (from the tenant's own WhatsApp number):
 * a conversation handed to a person, and the monthly LLM budget alerts.
 */
const snippet = (s: string, max = 160) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
};

const REASONS: Record<string, string> = {
  customer_request: 'the customer asked for a person',
  llm_handover: 'the bot had no answer from your FAQ',
  no_llm_configured: 'the bot had no answer from your FAQ',
  budget_exhausted: 'the bot had no FAQ answer (AI budget used up)',
};

export function conversationLink(base: string | undefined, conversationId: string): string {
  return `${(base ?? '').replace(/\/+$/, '')}/conversations/${conversationId}`;
}

export function handoverNotice(input: {
  business: string;
  reason: string;
  customerName: string | null;
  customerWaId: string;
  lastMessage: string | null;
  link: string;
}): string {
  const reason = REASONS[input.reason] ?? (input.reason.startsWith('llm_') || input.reason.startsWith('guard_') ? 'the bot could not answer' : input.reason);
  const who = `${input.customerName ? `${input.customerName} ` : ''}(+${input.customerWaId.replace(/^\+/, '')})`;
  return [
    `${input.business}: a customer needs a person (${reason}).`,
    `Customer: ${who}`,
    ...(input.lastMessage ? [`Last message: "${snippet(input.lastMessage)}"`] : []),
    `The bot stays quiet in this conversation until you hand it back. Reply here: ${input.link}`,
  ].join('\n');
}

export function budgetNotice(business: string, kind: 'alert_80' | 'exhausted', used: number, budget: number): string {
  return kind === 'alert_80'
    ? `${business}: ${Math.floor((used / budget) * 100)}% of this month's AI budget is used (${used} of ${budget} tokens). At 100% the bot answers from canned replies and FAQ only.`
    : `${business}: this month's AI budget (${budget} tokens) is used up. The bot now answers from canned replies and FAQ only, and hands other questions to your team. Raise the budget in the dashboard to restore AI answers.`;
}

/** Graph wants digits for `to`; escalation phones are stored like "+254 702 245 555". */
export const phoneDigits = (p: string) => p.replace(/\D/g, '');
