import type { Tx } from '../db.ts';

/** Counters of bot_usage_daily that the message path raises. */
export interface UsageDelta {
  messages_in?: number;
  messages_out?: number;
  answers_canned?: number;
  answers_faq?: number;
  answers_catalog?: number;
  answers_llm?: number;
  answers_fallback?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  cost_estimate_usd?: number;
}

const columns = [
  'messages_in',
  'messages_out',
  'answers_canned',
  'answers_faq',
  'answers_catalog',
  'answers_llm',
  'answers_fallback',
  'prompt_tokens',
  'completion_tokens',
  'cost_estimate_usd',
] as const satisfies readonly (keyof UsageDelta)[];

/**
 * Add to today's usage of the transaction's tenant (one upsert into its session's shard row,
 * migration 0012; concurrent writers add up because the increment happens in the row update).
 * `day` is the UTC date unless given.
 */
export async function addUsage(tx: Tx, tenantId: string, delta: UsageDelta, day?: string): Promise<void> {
  const v = (k: (typeof columns)[number]) => delta[k] ?? 0;
  if (columns.every((k) => v(k) === 0)) return;
  const d = day ?? new Date().toISOString().slice(0, 10);
  await tx`
    insert into alphadome.bot_usage_daily
      (tenant_id, day, shard, messages_in, messages_out, answers_canned, answers_faq, answers_catalog,
       answers_llm, answers_fallback, prompt_tokens, completion_tokens, cost_estimate_usd)
    values (${tenantId}, ${d}, alphadome.usage_shard(), ${v('messages_in')}, ${v('messages_out')}, ${v('answers_canned')}, ${v('answers_faq')},
            ${v('answers_catalog')}, ${v('answers_llm')}, ${v('answers_fallback')}, ${v('prompt_tokens')},
            ${v('completion_tokens')}, ${v('cost_estimate_usd')})
    on conflict (tenant_id, day, shard) do update set
      messages_in = bot_usage_daily.messages_in + excluded.messages_in,
      messages_out = bot_usage_daily.messages_out + excluded.messages_out,
      answers_canned = bot_usage_daily.answers_canned + excluded.answers_canned,
      answers_faq = bot_usage_daily.answers_faq + excluded.answers_faq,
      answers_catalog = bot_usage_daily.answers_catalog + excluded.answers_catalog,
      answers_llm = bot_usage_daily.answers_llm + excluded.answers_llm,
      answers_fallback = bot_usage_daily.answers_fallback + excluded.answers_fallback,
      prompt_tokens = bot_usage_daily.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = bot_usage_daily.completion_tokens + excluded.completion_tokens,
      cost_estimate_usd = bot_usage_daily.cost_estimate_usd + excluded.cost_estimate_usd`;
}

export interface UsageDay {
  day: string;
  messages_in: number;
  messages_out: number;
  answers_canned: number;
  answers_faq: number;
  answers_catalog: number;
  answers_llm: number;
  answers_fallback: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_estimate_usd: number;
}

/** Usage of the transaction's tenant, newest day first. */
export async function listUsage(tx: Tx, opts: { days?: number } = {}): Promise<UsageDay[]> {
  const rows = await tx<UsageDay[]>`
    select to_char(day, 'YYYY-MM-DD') as day, sum(messages_in)::int as messages_in, sum(messages_out)::int as messages_out,
           sum(answers_canned)::int as answers_canned, sum(answers_faq)::int as answers_faq,
           sum(answers_catalog)::int as answers_catalog, sum(answers_llm)::int as answers_llm,
           sum(answers_fallback)::int as answers_fallback, sum(prompt_tokens)::float8 as prompt_tokens,
           sum(completion_tokens)::float8 as completion_tokens, sum(cost_estimate_usd)::float8 as cost_estimate_usd
      from alphadome.bot_usage_daily
     where day > current_date - ${opts.days ?? 30}::int
     group by day
     order by day desc`;
  return rows.map((r) => ({ ...r }));
}
