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

export async function getConversationState(tx: Tx, by: { id: string } | { waId: string }): Promise<ConversationState | null> {
  const where = 'id' in by ? tx`c.id = ${by.id}` : tx`c.wa_id = ${by.waId}`;
  const rows = await tx<ConversationState[]>`
    select c.id, c.contact_id, c.wa_id, c.mode, c.mode_changed_at, c.away_period, c.handover_reason,
           k.name as contact_name, k.language as contact_language, k.opted_out_at,
           (select max(m.created_at) from alphadome.bot_message_logs m
             where m.conversation_id = c.id and m.direction = 'outbound' and m.sent_by = 'human') as last_human_at
      from alphadome.bot_conversations c join alphadome.bot_contacts k on k.id = c.contact_id
     where ${where}`;
  return rows[0] ? { ...rows[0] } : null;
}

const msgCols = `id, tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, payload,
  status, status_at, error_code, error_title, answer_path, template_id, faq_id, reply_to_wamid, sent_by,
  received_at, created_at`;

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
    insert into alphadome.bot_usage_daily (tenant_id, day, shard, llm_skipped_budget)
    values (${tenantId}, (now() at time zone 'utc')::date, alphadome.usage_shard(), 1)
    on conflict (tenant_id, day, shard) do update set llm_skipped_budget = bot_usage_daily.llm_skipped_budget + 1`;
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

// ---- the message path's single-statement forms (issue 9) -----------------------------------

export interface StoreInboundInput {
  tenantId: string;
  wamid: string;
  waId: string;
  contactName?: string | undefined;
  messageType: string;
  body: string | null;
  payload: Record<string, unknown>;
  receivedAt: Date;
  /** an echo of the business's own message: stored handled, no contact or conversation */
  fromBusiness: boolean;
}

export interface StoredInbound {
  /** null: no such tenant (nothing stored) */
  controls: { is_active: boolean; bot_enabled: boolean | null; debounce_ms: number | null; settings: Record<string, unknown> | null } | null;
  message: { id: string; created: boolean; handled: boolean } | null;
  /** the conversation (null for the business's own messages) */
  state: ConversationState | null;
}

/**
 * Store an inbound message and everything it touches in two statements, sent together (one
 * round trip inside withTenantPipelined): the message (idempotent on tenant + wamid); then the
 * tenant's controls, the contact and conversation (created on first contact; unread count and
 * last inbound time raised) when the message is new or was never linked to one, the link, the
 * tenant's messages_in, and the conversation's state. The first statement leaves the new row's
 * id in a transaction-local setting, so the second knows whether this call created it.
 */
export async function storeInbound(tx: Tx, m: StoreInboundInput): Promise<StoredInbound> {
  const day = new Date().toISOString().slice(0, 10);
  const first = tx`
    with ins as (
      insert into alphadome.bot_message_logs
        (tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, payload, status,
         status_at, sent_by, received_at, handled_at)
      select ${m.tenantId}, null, 'inbound', ${m.wamid}, ${'in:' + m.wamid}, ${m.waId}, ${m.messageType}, ${m.body},
             ${tx.json(m.payload as never)}, 'received', now(), ${m.fromBusiness ? 'business' : 'customer'}, ${m.receivedAt},
             ${m.fromBusiness ? tx`now()` : tx`null`}
       where exists (select 1 from alphadome.bot_tenants where id = ${m.tenantId})
      on conflict (tenant_id, wamid) do nothing
      returning id
    )
    select set_config('alphadome.inbound_created', coalesce((select id::text from ins), ''), true)`.execute();
  first.catch(() => {}); // the second statement fails too, and is awaited
  const second = tx<
    (Omit<ConversationState, 'id'> & {
      is_active: boolean | null;
      bot_enabled: boolean | null;
      debounce_ms: number | null;
      settings: Record<string, unknown> | null;
      message_id: string | null;
      created: boolean | null;
      handled: boolean | null;
      conv_id: string | null;
    })[]
  >`
    with msg as (
      select m.id, m.conversation_id, m.handled_at is not null as handled,
             m.id::text = current_setting('alphadome.inbound_created', true) as created
        from alphadome.bot_message_logs m where m.wamid = ${m.wamid}
    ), controls as (
      select t.is_active, s.bot_enabled, s.debounce_ms, s.settings
        from alphadome.bot_tenants t left join alphadome.bot_control_settings s on s.tenant_id = t.id
       where t.id = ${m.tenantId}
    ), contact as (
      insert into alphadome.bot_contacts (tenant_id, wa_id, name, last_inbound_at)
      select ${m.tenantId}, ${m.waId}, ${m.contactName ?? null}, ${m.receivedAt}
       where ${!m.fromBusiness}::boolean and exists (select 1 from msg where conversation_id is null and (created or not handled))
      on conflict (tenant_id, wa_id) do update
        set name = coalesce(excluded.name, alphadome.bot_contacts.name),
            last_inbound_at = greatest(alphadome.bot_contacts.last_inbound_at, excluded.last_inbound_at),
            updated_at = now()
      returning id, name, language, opted_out_at
    ), conv as (
      insert into alphadome.bot_conversations (tenant_id, contact_id, wa_id, unread_count, last_message_at, last_inbound_at)
      select ${m.tenantId}, k.id, ${m.waId}, 1, ${m.receivedAt}, ${m.receivedAt} from contact k
      on conflict (tenant_id, wa_id) do update
        set unread_count = alphadome.bot_conversations.unread_count + 1,
            last_message_at = greatest(alphadome.bot_conversations.last_message_at, excluded.last_message_at),
            last_inbound_at = greatest(alphadome.bot_conversations.last_inbound_at, excluded.last_inbound_at),
            updated_at = now()
      returning id, contact_id, wa_id, mode, mode_changed_at, away_period, handover_reason
    ), link as (
      update alphadome.bot_message_logs l set conversation_id = c.id from conv c
       where l.id = (select id from msg)
      returning l.id
    ), usage as (
      insert into alphadome.bot_usage_daily (tenant_id, day, shard, messages_in)
      select ${m.tenantId}, ${day}, alphadome.usage_shard(), 1 where exists (select 1 from msg where created)
      on conflict (tenant_id, day, shard) do update set messages_in = alphadome.bot_usage_daily.messages_in + 1
      returning 1
    ), state as (
      select c.id, c.contact_id, c.wa_id, c.mode, c.mode_changed_at, c.away_period, c.handover_reason,
             k.name as contact_name, k.language as contact_language, k.opted_out_at
        from conv c join contact k on k.id = c.contact_id
      union all
      select c.id, c.contact_id, c.wa_id, c.mode, c.mode_changed_at, c.away_period, c.handover_reason,
             k.name, k.language, k.opted_out_at
        from alphadome.bot_conversations c join alphadome.bot_contacts k on k.id = c.contact_id
       where c.id = (select conversation_id from msg) and not exists (select 1 from conv)
    )
    select ctl.is_active, ctl.bot_enabled, ctl.debounce_ms, ctl.settings,
           msg.id as message_id, msg.created, msg.handled,
           st.id as conv_id, st.contact_id, st.wa_id, st.mode, st.mode_changed_at, st.away_period, st.handover_reason,
           st.contact_name, st.contact_language, st.opted_out_at,
           (select max(h.created_at) from alphadome.bot_message_logs h
             where h.conversation_id = st.id and h.direction = 'outbound' and h.sent_by = 'human') as last_human_at
      from (select 1) one
      left join controls ctl on true
      left join msg on true
      left join state st on true`.execute();
  const [, [r]] = await Promise.all([first, second]);
  if (!r || r.is_active === null) return { controls: null, message: null, state: null };
  return {
    controls: { is_active: r.is_active, bot_enabled: r.bot_enabled, debounce_ms: r.debounce_ms, settings: r.settings },
    message: r.message_id ? { id: r.message_id, created: !!r.created, handled: !!r.handled } : null,
    state: r.conv_id
      ? {
          id: r.conv_id,
          contact_id: r.contact_id,
          wa_id: r.wa_id,
          mode: r.mode,
          mode_changed_at: r.mode_changed_at,
          away_period: r.away_period,
          handover_reason: r.handover_reason,
          contact_name: r.contact_name,
          contact_language: r.contact_language,
          opted_out_at: r.opted_out_at,
          last_human_at: r.last_human_at,
        }
      : null,
  };
}

/** Inbound customer messages not handled yet, oldest first, by the customer's wa_id (no need to know the conversation id first: pipelined with its state). */
export async function listUnhandledInboundByWaId(tx: Tx, waId: string, opts: { limit?: number } = {}): Promise<MessageRow[]> {
  const rows = await tx<MessageRow[]>`
    select ${tx.unsafe(msgCols)} from alphadome.bot_message_logs
     where conversation_id = (select id from alphadome.bot_conversations where wa_id = ${waId})
       and direction = 'inbound' and handled_at is null
       and sent_by is distinct from 'business'
     order by coalesce(received_at, created_at), created_at, id
     limit ${opts.limit ?? 20}`;
  return rows.map((r) => ({ ...r }));
}

/** SQLSTATE of alphadome.claim_unhandled when another job handled some of the messages. */
export const CLAIM_CONFLICT = 'AD409';

/**
 * Lock the conversation, then mark its messages handled — or FAIL (SQLSTATE AD409) unless every
 * one was still unhandled, so the statements pipelined behind it abort with the transaction
 * (migration 0010). Use claimUnhandled where the caller awaits the claim before writing.
 */
export async function claimUnhandledOrFail(tx: Tx, conversationId: string, ids: readonly string[]): Promise<void> {
  await tx`select alphadome.claim_unhandled(${conversationId}, ${ids as string[]}::uuid[])`;
}

/** SQLSTATE of alphadome.require_inbound_fastpath when the message needs the full path. */
export const INBOUND_FULL_PATH = 'AD412';

/**
 * Pipelined behind storeInbound: fails (SQLSTATE AD412, the transaction rolls back) unless the
 * message just stored is new, in a bot conversation of an active tenant with the bot on, from
 * a customer who has not opted out — the case that needs no further decision (migration 0010).
 */
export async function requireInboundFastPath(tx: Tx): Promise<void> {
  await tx`select alphadome.require_inbound_fastpath()`;
}
