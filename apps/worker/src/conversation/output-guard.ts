import { foldWords } from '@alphadome/tenant-core';

/**
 * The last line of defence after the prompt: an LLM answer that leaks the instructions, dumps
 * the FAQ, names another tenant, carries a secret-looking string or links somewhere the tenant
 * does not is replaced by the fallback reply. Cheap string checks, no second model call.
 */
export interface GuardInput {
  answer: string;
  /** the instruction blocks (tenant prompt, tone, platform rules), NOT the FAQ data */
  instructions: readonly string[];
  faqQuestions: readonly string[];
  /** names / numbers of other tenants */
  foreignMarkers: readonly string[];
  /** hosts the tenant may link to */
  allowedHosts: readonly string[];
}

export type GuardVerdict = { ok: true } | { ok: false; reason: 'prompt_leak' | 'faq_dump' | 'foreign_tenant' | 'secret' | 'url' };

/** a verbatim run this long (in words) of the instructions is a leak; shorter is coincidence */
const SHINGLE = 10;
const SENTENCE = 7;

function shingles(words: readonly string[], n: number): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

function containsSequence(words: readonly string[], seq: readonly string[]): boolean {
  if (seq.length === 0) return false;
  outer: for (let i = 0; i + seq.length <= words.length; i++) {
    for (let j = 0; j < seq.length; j++) if (words[i + j] !== seq[j]) continue outer;
    return true;
  }
  return false;
}

const SECRET_PATTERNS = [
  /EAA[A-Za-z0-9_-]{16,}/, // Meta access tokens
  /\bsk-[A-Za-z0-9_-]{12,}/, // OpenAI-style keys
  /-----BEGIN [A-Z ]+-----/,
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i, // internal ids
  /\bwamid\.[A-Za-z0-9=_-]{8,}/,
  /\bapp\.tenant_id\b|\bbot_[a-z_]+\b|\balphadome\.[a-z_]+/i, // schema names
];

const TLDS = 'com|net|org|io|co|ke|me|info|biz|xyz|ly|app|dev|shop|store|online|site|link|tk|ru|cn|uk|us|ai|gg|to|cc|top|click';
const URL_RE = new RegExp(
  `(?:https?:\\/\\/|www\\.)[^\\s<>"')]+|\\b(?:[a-z0-9-]+\\.)+(?:${TLDS})\\b(?:\\/[^\\s<>"')]*)?`,
  'gi',
);

/** Hosts of the links in a text (scheme-less ones too: "evil.example.com/x"). */
export function linkHosts(text: string): string[] {
  const hosts: string[] = [];
  for (const m of text.match(URL_RE) ?? []) {
    const withScheme = /^https?:\/\//i.test(m) ? m : `http://${m}`;
    try {
      hosts.push(new URL(withScheme).hostname.toLowerCase().replace(/\.$/, ''));
    } catch {
      hosts.push(m.toLowerCase());
    }
  }
  return hosts;
}

export const hostAllowed = (host: string, allowed: readonly string[]) =>
  allowed.some((a) => a !== '' && (host === a || host.endsWith(`.${a}`) || (host.startsWith('www.') && host.slice(4) === a)));

export function guardAnswer(input: GuardInput): GuardVerdict {
  const answer = input.answer;
  const words = foldWords(answer);

  // 1. verbatim spans of the instructions
  for (const block of input.instructions) {
    const instr = foldWords(block);
    if (instr.length < 5) continue;
    const n = Math.min(SHINGLE, instr.length);
    const a = shingles(words, n);
    for (const s of shingles(instr, n)) if (a.has(s)) return { ok: false, reason: 'prompt_leak' };
    // a whole sentence of the instructions (7+ words), even when the leak reorders them
    for (const sentence of block.split(/[.!?\n]+/)) {
      const sw = foldWords(sentence);
      if (sw.length >= SENTENCE && containsSequence(words, sw)) return { ok: false, reason: 'prompt_leak' };
    }
  }
  // the structure of the prompt itself
  if (/BUSINESS DATA|HANDOVER|system prompt|my instructions/i.test(answer)) return { ok: false, reason: 'prompt_leak' };

  // 2. a dump of the FAQ: Q/A lines, or several FAQ questions quoted verbatim
  const qaLines = answer.split(/\r?\n/).filter((l) => /^\s*(?:[-*•]\s*)?[QA]\s*[:：]/i.test(l)).length;
  if (qaLines >= 2) return { ok: false, reason: 'faq_dump' };
  const quoted = input.faqQuestions.filter((q) => {
    const qw = foldWords(q);
    return qw.length >= 3 && containsSequence(words, qw);
  }).length;
  if (quoted >= 3) return { ok: false, reason: 'faq_dump' };

  // 3. another tenant's name or number
  for (const marker of input.foreignMarkers) {
    const digits = marker.replace(/\D/g, '');
    if (/^\+?[\d\s-]{7,}$/.test(marker) && digits.length >= 7) {
      if (answer.replace(/\D/g, '').includes(digits)) return { ok: false, reason: 'foreign_tenant' };
      continue;
    }
    const mw = foldWords(marker);
    if (mw.length === 0 || (mw.length === 1 && mw[0]!.length < 6)) continue;
    if (containsSequence(words, mw)) return { ok: false, reason: 'foreign_tenant' };
  }

  // 4. secrets and internal identifiers
  if (SECRET_PATTERNS.some((re) => re.test(answer))) return { ok: false, reason: 'secret' };

  // 5. links only to the tenant's own hosts
  for (const host of linkHosts(answer)) if (!hostAllowed(host, input.allowedHosts)) return { ok: false, reason: 'url' };

  return { ok: true };
}
