// The OpenAI simulator's default "model": deterministic and grounded. It answers only from
// `Q: … / A: …` lines found in the system/user messages, and says HANDOVER otherwise —
// the same contract the worker expects from a real model told to stay within the FAQ.

/** What the model says when it cannot answer from the grounding; the worker hands over to a human. */
export const HANDOVER_TOKEN = 'HANDOVER';

export type ChatContent = string | null | Array<{ type: string; text?: string; [key: string]: unknown }>;

export interface ChatMessage {
  role: string;
  content?: ChatContent;
  [key: string]: unknown;
}

export interface FaqPair {
  question: string;
  answer: string;
}

const Q_RE = /^\s*(?:[-*•]\s*|\d+[.)]\s*)?Q\s*[:：]\s*(.+?)\s*$/i;
const A_RE = /^\s*(?:[-*•]\s*)?A\s*[:：]\s*(.+?)\s*$/i;
const INLINE_A_RE = /^(.*?)\s+A\s*[:：]\s*(.+)$/i;

const STOP_WORDS = new Set(
  (
    'the and are you your yours for with this that these those there their them they what whats when where which who whom ' +
    'why how does did doing have has had having can could would should will shall may might must not any all some ' +
    'about from into onto over under than then too very just also only please thanks thank hello hey hiya morning ' +
    'evening afternoon good need want know tell like get got much many more most our ours out was were been being ' +
    'its yes okay kindly help sir madam dear one habari tafadhali sasa naomba'
  ).split(/\s+/),
);

/** Plain text of a message's content (string or array of text parts). */
export function messageText(content: ChatContent | undefined): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (typeof p.text === 'string' ? p.text : '')).join('\n');
}

/** Every `Q:` line paired with the `A:` line that follows it (or `Q: … A: …` on one line). */
export function extractFaq(text: string): FaqPair[] {
  const pairs: FaqPair[] = [];
  let pending: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const q = Q_RE.exec(line);
    if (q) {
      const inline = INLINE_A_RE.exec(q[1]!);
      if (inline) {
        pairs.push({ question: inline[1]!.trim(), answer: inline[2]!.trim() });
        pending = null;
      } else {
        pending = q[1]!;
      }
      continue;
    }
    const a = A_RE.exec(line);
    if (a && pending !== null) {
      pairs.push({ question: pending, answer: a[1]! });
      pending = null;
    }
  }
  return pairs;
}

/** Lower-cased, accent-free words of 3+ letters that are not filler, with a plural -s dropped. */
export function significantWords(text: string): Set<string> {
  const out = new Set<string>();
  const normalized = text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
  for (const w of normalized.match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (w.length < 3 || STOP_WORDS.has(w)) continue;
    out.add(w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w);
  }
  return out;
}

function stripFaqLines(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => !Q_RE.test(l) && !A_RE.test(l))
    .join('\n');
}

/**
 * Answer the last user message from the Q/A pair sharing the most significant words with
 * it (first pair wins ties); HANDOVER when none shares a word.
 */
export function groundedAnswer(messages: readonly ChatMessage[]): string {
  const grounding = messages
    .filter((m) => m.role === 'system' || m.role === 'developer' || m.role === 'user')
    .map((m) => messageText(m.content))
    .join('\n');
  const pairs = extractFaq(grounding);
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  if (!lastUser || pairs.length === 0) return HANDOVER_TOKEN;
  const asked = significantWords(stripFaqLines(messageText(lastUser.content)));
  let best: FaqPair | null = null;
  let bestScore = 0;
  for (const pair of pairs) {
    let score = 0;
    for (const w of significantWords(pair.question)) if (asked.has(w)) score++;
    if (score > bestScore) {
      best = pair;
      bestScore = score;
    }
  }
  return best ? best.answer : HANDOVER_TOKEN;
}
