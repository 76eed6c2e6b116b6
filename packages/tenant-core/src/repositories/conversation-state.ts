import type { Tx } from '../db.ts';
import type { MessageRow } from './messages.ts';

/**
 * Conversation state the bot's behaviour depends on (issue 6): unhandled inbound messages,
 * opt-out, handover, the away message's closed period, budget events. All inside withTenant.
 */
export interface ConversationState {
  id: string;
  contact_id: string;
  wa_id: string;
  mode: 'bot' | 'human';
  mode_changed_at: Date | null;
  away_period: string | null;
  handover_reason: string | null;
  contact_name: string | null;
  contact_language: string | null;
  opted_out_at: Date | null;
  /** the last message a person sent from the dashboard in this conversation */
  last_human_at: Date | null;
}

export async function getConversationState(tx: Tx, by: { id: string } | { waId: string }, opts: { forUpdate?: boolean } = {}): Promise<ConversationState | null> {
  const where = 'id' in by ? tx`c.id = ${by.id}` : tx`c.wa_id = ${by.waId}`;
  const rows = await tx<ConversationState[]>`
    select c.id, c.contact_id, c.wa_id, c.mode, c.mode_changed_at, c.away_period, c.handover_reason,
           k.name as contact_name, k.language as contact_language, k.opted_out_at,
           (select max(m.created_at) from alphadome.bot_message_logs m
             where m.conversation_id = c.id and m.direction = 'outbound' and m.sent_by = 'human') as last_human_at
      from alphadome.bot_conversations c join alphadome.bot_contacts k on k.id = c.contact_id
     where ${where}
     ${opts.forUpdate ? tx`for update of c` : tx``}`;
  return rows[0] ? { ...rows[0] } : null;
}

const msgCols = `id, tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, payload,
  status, status_at, error_code, error_title, answer_path, template_id, faq_id, reply_to_wamid, sent_by,
  received_at, created_at`;

/** Inbound customer messages of a conversation not handled yet, oldest first. */
export async function listUnhandledInbound(tx: Tx, conversationId: string, opts: { limit?: number } = {}): Promise<MessageRow[]> {
  const rows = await tx<MessageRow[]>`
    select ${tx.unsafe(msgCols)} from alphadome.bot_message_logs
     where conversation_id = ${conversationId} and direction = 'inbound' and handled_at is null
       and sent_by is distinct from 'business'
     order by coalesce(received_at, created_at), created_at, id
     limit ${opts.limit ?? 20}`;
  return rows.map((r) => ({ ...r }));
}

/**
 * Mark messages handled. Returns false (and changes nothing) unless every one was still
 * unhandled: then another job already dealt with them and the caller must not answer.
 */
export async function claimUnhandled(tx: Tx, ids: readonly string[]): Promise<boolean> {
  if (ids.length === 0) return true;
  const free = await tx<{ id: string }[]>`
    select id from alphadome.bot_message_logs where id = any(${ids as string[]}::uuid[]) and handled_at is null for update`;
  if (free.length !== ids.length) return false;
  await tx`update alphadome.bot_message_logs set handled_at = now() where id = any(${ids as string[]}::uuid[])`;
  return true;
}

export async function markHandled(tx: Tx, id: string): Promise<void> {
  await tx`update alphadome.bot_message_logs set handled_at = now() where id = ${id} and handled_at is null`;
}

export async function isHandled(tx: Tx, wamid: string): Promise<boolean> {
  const rows = await tx<{ handled: boolean }[]>`
    select handled_at is not null as handled from alphadome.bot_message_logs where wamid = ${wamid}`;
  return rows[0]?.handled ?? false;
}

export interface TextTurn {
  direction: 'inbound' | 'outbound';
  body: string;
  created_at: Date;
}

/** Turns with text before a point in a conversation (the history given to the LLM), oldest first. */
export async function turnsBefore(tx: Tx, conversationId: string, before: Date, limit = 6): Promise<TextTurn[]> {
  const rows = await tx<TextTurn[]>`
    select direction, body, created_at from alphadome.bot_message_logs
     where conversation_id = ${conversationId} and body is not null and body <> ''
       and created_at < ${before}
       and (direction = 'inbound' or status is distinct from 'failed')
     order by created_at desc limit ${limit}`;
  return rows.reverse().map((r) => ({ ...r }));
}

/** Queued outbound messages (not yet accepted by Meta) with these idempotency keys. */
export async function listQueuedOutbound(tx: Tx, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await tx<{ idempotency_key: string }[]>`
    select idempotency_key from alphadome.bot_message_logs
     where direction = 'outbound' and idempotency_key = any(${keys as string[]}::text[])
       and wamid is null and status is distinct from 'failed'`;
  return rows.map((r) => r.idempotency_key);
}

/** wamids of the last handled inbound messages of a conversation (to find a crashed job's sends). */
export async function recentHandledWamids(tx: Tx, conversationId: string, limit = 5): Promise<string[]> {
  const rows = await tx<{ wamid: string }[]>`
    select wamid from alphadome.bot_message_logs
     where conversation_id = ${conversationId} and direction = 'inbound' and handled_at is not null and wamid is not null
     order by handled_at desc limit ${limit}`;
  return rows.map((r) => r.wamid);
}

export async function setContactOptOut(tx: Tx, contactId: string, optedOut: boolean): Promise<void> {
  await tx`update alphadome.bot_contacts
              set opted_out_at = ${optedOut ? tx`coalesce(opted_out_at, now())` : null}, updated_at = now()
            where id = ${contactId}`;
}

export async function setContactLanguage(tx: Tx, contactId: string, language: string): Promise<void> {
  await tx`update alphadome.bot_contacts set language = ${language}, updated_at = now()
            where id = ${contactId} and language is distinct from ${language}`;
}

/** Switch a conversation to 'human' (bot silent) or back to 'bot', recording why. */
export async function setConversationHandover(tx: Tx, id: string, mode: 'bot' | 'human', reason: string | null): Promise<boolean> {
  const rows = await tx`update alphadome.bot_conversations
              set mode = ${mode}, mode_changed_at = now(), handover_reason = ${reason}, updated_at = now()
            where id = ${id} and mode <> ${mode} returning id`;
  return rows.length > 0;
}

export async function setAwayPeriod(tx: Tx, id: string, period: string): Promise<void> {
  await tx`update alphadome.bot_conversations set away_period = ${period}, updated_at = now() where id = ${id}`;
}

/** Active system templates (fallback, away, handover, optout) by kind and language. */
export async function listSystemTemplates(tx: Tx): Promise<{ id: string; kind: string; language: string; body: string }[]> {
  const rows = await tx<{ id: string; kind: string; language: string; body: string }[]>`
    select id, kind, language, body from alphadome.bot_templates
     where is_active and kind in ('fallback', 'away', 'handover', 'optout') and body <> ''
     order by created_at, id`;
  return rows.map((r) => ({ ...r }));
}

/** Languages of FAQ entries (to prefer the customer's language variant). */
export async function faqLanguages(tx: Tx, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await tx<{ id: string; language: string }[]>`
    select id, language from alphadome.bot_training_data where id = any(${ids as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.language]));
}

/** Tokens (prompt + completion) the tenant has used this calendar month (UTC). */
export async function monthlyTokens(tx: Tx): Promise<number> {
  const [row] = await tx<{ tokens: string | number | null }[]>`
    select coalesce(sum(prompt_tokens + completion_tokens), 0) as tokens from alphadome.bot_usage_daily
     where day >= date_trunc('month', (now() at time zone 'utc'))::date`;
  return Number(row?.tokens ?? 0);
}

export type BudgetEventKind = 'alert_80' | 'exhausted';

/** Record a budget event once per month; true when this call recorded it (act on it then). */
export async function recordBudgetEvent(tx: Tx, tenantId: string, kind: BudgetEventKind, used: number, budget: number): Promise<boolean> {
  const rows = await tx`
    insert into alphadome.bot_budget_events (tenant_id, month, kind, tokens_used, token_budget)
    values (${tenantId}, date_trunc('month', (now() at time zone 'utc'))::date, ${kind}, ${used}, ${budget})
    on conflict (tenant_id, month, kind) do nothing returning kind`;
  return rows.length > 0;
}

/** This month's budget events of the tenant (for the dashboard: "answering from FAQ only"). */
export async function listBudgetEvents(tx: Tx): Promise<{ kind: BudgetEventKind; tokens_used: number; token_budget: number; created_at: Date }[]> {
  const rows = await tx<{ kind: BudgetEventKind; tokens_used: string; token_budget: string; created_at: Date }[]>`
    select kind, tokens_used, token_budget, created_at from alphadome.bot_budget_events
     where month = date_trunc('month', (now() at time zone 'utc'))::date order by created_at`;
  return rows.map((r) => ({ kind: r.kind, tokens_used: Number(r.tokens_used), token_budget: Number(r.token_budget), created_at: r.created_at }));
}

export async function addSkippedForBudget(tx: Tx, tenantId: string): Promise<void> {
  await tx`
    insert into alphadome.bot_usage_daily (tenant_id, day, llm_skipped_budget)
    values (${tenantId}, (now() at time zone 'utc')::date, 1)
    on conflict (tenant_id, day) do update set llm_skipped_budget = bot_usage_daily.llm_skipped_budget + 1`;
}

/** Display names and numbers of other tenants (output guard); a SECURITY DEFINER function. */
export async function foreignTenantMarkers(tx: Tx, tenantId: string): Promise<string[]> {
  const rows = await tx<{ marker: string }[]>`select marker from alphadome.foreign_tenant_markers(${tenantId})`;
  return rows.map((r) => r.marker);
}

/** Store a transcript (voice note) as the text of an inbound message. */
export async function setInboundBody(tx: Tx, id: string, body: string): Promise<void> {
  await tx`update alphadome.bot_message_logs set body = ${body} where id = ${id} and direction = 'inbound' and body is null`;
}
