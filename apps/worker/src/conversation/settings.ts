import type { TenantContext } from '@alphadome/tenant-core';

/**
 * The conversation-behaviour knobs a tenant can set in bot_control_settings.settings (jsonb),
 * with their defaults. Unknown or ill-typed values fall back to the default.
 */
export interface BehaviourSettings {
  handoverPhrases: string[];
  optoutKeywords: string[];
  optinKeywords: string[];
  /** any new message after opting out opts the customer back in (else only START does) */
  optinOnAnyMessage: boolean;
  /** minutes without a person replying after which a handed-over conversation returns to the bot; 0 = never */
  handoverQuietMinutes: number;
  /** switch to a person when the bot has no grounded answer (LLM says HANDOVER, fails, no LLM) */
  handoverOnNoAnswer: boolean;
  /** outside business hours, still answer from canned replies and FAQ */
  answerFaqWhenClosed: boolean;
  transcribeVoice: boolean;
  transcriptionModel: string;
  /** hosts an LLM answer may link to (besides those in the tenant's own FAQ and prompt) */
  allowedUrlHosts: string[];
}

export const DEFAULT_HANDOVER_PHRASES = [
  'talk to a person',
  'speak to a person',
  'talk to someone',
  'speak to someone',
  'real person',
  'human',
  'agent',
  'customer care',
  'customer service',
  'talk to a human',
  'speak to a human',
  'nataka kuongea na mtu',
  'nataka kuongea na mhudumu',
  'niongee na mtu',
  'mhudumu',
  'mtu halisi',
];
export const DEFAULT_OPTOUT_KEYWORDS = ['stop', 'unsubscribe', 'opt out', 'acha', 'sitaki', 'niondoe', 'stop messages'];
export const DEFAULT_OPTIN_KEYWORDS = ['start', 'subscribe', 'anza', 'endelea'];

const strings = (v: unknown): string[] | null =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]).filter((s) => s.trim() !== '') : null;
const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);

export function behaviourSettings(extra: Record<string, unknown>): BehaviourSettings {
  return {
    handoverPhrases: strings(extra['handover_phrases']) ?? DEFAULT_HANDOVER_PHRASES,
    optoutKeywords: strings(extra['optout_keywords']) ?? DEFAULT_OPTOUT_KEYWORDS,
    optinKeywords: strings(extra['optin_keywords']) ?? DEFAULT_OPTIN_KEYWORDS,
    optinOnAnyMessage: bool(extra['optin_on_any_message'], false),
    handoverQuietMinutes: num(extra['handover_quiet_minutes'], 120),
    handoverOnNoAnswer: bool(extra['handover_on_no_answer'], true),
    answerFaqWhenClosed: bool(extra['answer_faq_when_closed'], true),
    transcribeVoice: bool(extra['transcribe_voice'], false),
    transcriptionModel: typeof extra['transcription_model'] === 'string' ? extra['transcription_model'] : 'whisper-1',
    allowedUrlHosts: (strings(extra['allowed_url_hosts']) ?? []).map((h) => h.toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '')),
  };
}

export const behaviourOf = (ctx: TenantContext) => behaviourSettings(ctx.settings.extra);
