import type { Tx } from '../db.ts';

export type AnswerPath = 'canned' | 'faq' | 'catalog' | 'llm' | 'fallback' | 'human' | 'system';

export interface MessageRow {
  id: string;
  tenant_id: string;
  conversation_id: string | null;
  direction: 'inbound' | 'outbound';
  wamid: string | null;
  idempotency_key: string | null;
  wa_id: string | null;
  message_type: string | null;
  body: string | null;
  payload: Record<string, unknown> | null;
  status: string | null;
  status_at: Date | null;
  error_code: number | null;
  error_title: string | null;
  answer_path: AnswerPath | null;
  template_id: string | null;
  faq_id: string | null;
  reply_to_wamid: string | null;
  sent_by: string | null;
  received_at: Date | null;
  created_at: Date;
}

const cols = `id, tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, payload,
  status, status_at, error_code, error_title, answer_path, template_id, faq_id, reply_to_wamid, sent_by,
  received_at, created_at`;
/** cols qualified with the alias `m` (joins) */
const colsOfM = cols.replace(/(\w+)/g, 'm.$1');

export interface InboundMessageInput {
  tenantId: string;
  conversationId: string | null;
  wamid: string;
  waId: string;
  messageType: string;
  body: string | null;
  payload: Record<string, unknown>;
  receivedAt: Date;
  /** 'customer', or 'business' for echoes of the business's own messages */
  sentBy?: string;
}

/**
 * Store an inbound message; idempotent on (tenant, wamid). Returns the row and whether this
 * call created it (false: a duplicate delivery, nothing else should happen).
 */
export async function insertInboundMessage(tx: Tx, m: InboundMessageInput): Promise<{ row: MessageRow; created: boolean }> {
  const inserted = await tx<MessageRow[]>`
    insert into alphadome.bot_message_logs
      (tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, payload, status,
       status_at, sent_by, received_at)
    values (${m.tenantId}, ${m.conversationId}, 'inbound', ${m.wamid}, ${'in:' + m.wamid}, ${m.waId}, ${m.messageType},
            ${m.body}, ${tx.json(m.payload as never)}, 'received', now(), ${m.sentBy ?? 'customer'}, ${m.receivedAt})
    on conflict (tenant_id, wamid) do nothing
    returning ${tx.unsafe(cols)}`;
  if (inserted[0]) return { row: inserted[0], created: true };
  const existing = await getMessageByWamid(tx, m.wamid);
  if (!existing) throw new Error('inbound message conflicted but cannot be read back');
  return { row: existing, created: false };
}

export async function getMessageByWamid(tx: Tx, wamid: string): Promise<MessageRow | null> {
  const rows = await tx<MessageRow[]>`select ${tx.unsafe(cols)} from alphadome.bot_message_logs where wamid = ${wamid}`;
  return rows[0] ?? null;
}

export async function getMessageByIdempotencyKey(tx: Tx, key: string): Promise<MessageRow | null> {
  const rows = await tx<MessageRow[]>`
    select ${tx.unsafe(cols)} from alphadome.bot_message_logs where idempotency_key = ${key}`;
  return rows[0] ?? null;
}

export interface OutboundMessageInput {
  tenantId: string;
  conversationId: string | null;
  idempotencyKey: string;
  waId: string;
  messageType: string;
  body: string;
  /** the Graph API payload to send (never holds a token) */
  payload: Record<string, unknown>;
  answerPath: AnswerPath;
  templateId?: string | null;
  faqId?: string | null;
  replyToWamid?: string | null;
  sentBy?: string;
}

/**
 * Store an outbound message before it is sent (status 'queued'); idempotent on the key.
 * Returns the row and whether this call created it.
 */
export async function insertOutboundMessage(tx: Tx, m: OutboundMessageInput): Promise<{ row: MessageRow; created: boolean }> {
  const once = await insertOutboundMessageOnce(tx, m);
  if (once.row) return { row: once.row, created: once.created };
  // inserted by another transaction after this statement's snapshot: read it back now
  const existing = await getMessageByIdempotencyKey(tx, m.idempotencyKey);
  if (!existing) throw new Error('outbound message conflicted but cannot be read back');
  return { row: existing, created: false };
}

/** Meta accepted the message: record its wamid. Only a row without a wamid is changed. */
export async function markOutboundAccepted(tx: Tx, id: string, wamid: string): Promise<boolean> {
  const rows = await tx`
    update alphadome.bot_message_logs
       set wamid = ${wamid},
           status = case when alphadome.message_status_rank(status) < alphadome.message_status_rank('accepted')
                         then 'accepted' else status end,
           status_at = now(), error_code = null, error_title = null
     where id = ${id} and wamid is null
    returning id`;
  return rows.length > 0;
}

/** The send failed for good (or is flagged, e.g. outside the 24-hour window). */
export async function markOutboundFailed(
  tx: Tx,
  id: string,
  err: { code: number; title: string; status?: string },
): Promise<void> {
  await tx`
    update alphadome.bot_message_logs
       set status = ${err.status ?? 'failed'}, status_at = now(), error_code = ${err.code}, error_title = ${err.title.slice(0, 500)}
     where id = ${id} and wamid is null`;
}

export type ApplyStatusResult = 'applied' | 'ignored' | 'unknown';

/**
 * Apply a delivery status from Meta to our outbound message with that wamid. Never moves
 * backwards (see alphadome.message_status_rank: accepted < sent < delivered < failed < read);
 * a `failed` keeps Meta's error code and title. 'unknown' = no outbound row with this wamid (yet).
 */
export async function applyMessageStatus(
  tx: Tx,
  input: { wamid: string; status: string; at: Date; errorCode?: number | null; errorTitle?: string | null },
): Promise<ApplyStatusResult> {
  const rows = await tx<{ id: string; applied: boolean }[]>`
    with target as (
      select id, status from alphadome.bot_message_logs
       where wamid = ${input.wamid} and direction = 'outbound'
       for update
    ), upd as (
      update alphadome.bot_message_logs m
         set status = ${input.status}, status_at = ${input.at},
             error_code = case when ${input.status} = 'failed' then ${input.errorCode ?? null}::int else m.error_code end,
             error_title = case when ${input.status} = 'failed' then ${input.errorTitle ?? null}::text else m.error_title end
        from target t
       where m.id = t.id
         and alphadome.message_status_rank(${input.status}) > alphadome.message_status_rank(t.status)
      returning m.id
    )
    select t.id, exists (select 1 from upd) as applied from target t`;
  const row = rows[0];
  if (!row) return 'unknown';
  return row.applied ? 'applied' : 'ignored';
}

export interface Turn {
  direction: 'inbound' | 'outbound';
  body: string;
  created_at: Date;
}

/** The last `limit` turns with text in a conversation, oldest first, excluding one message. */
export async function recentTurns(tx: Tx, conversationId: string, opts: { limit?: number; excludeId?: string } = {}): Promise<Turn[]> {
  const rows = await tx<Turn[]>`
    select direction, body, created_at from alphadome.bot_message_logs
     where conversation_id = ${conversationId}
       and body is not null and body <> ''
       and id <> ${opts.excludeId ?? '00000000-0000-0000-0000-000000000000'}
       and (direction = 'inbound' or status is distinct from 'failed')
     order by created_at desc
     limit ${opts.limit ?? 6}`;
  return rows.reverse().map((r) => ({ ...r }));
}

export async function listConversationMessages(tx: Tx, conversationId: string, opts: { limit?: number } = {}): Promise<MessageRow[]> {
  const rows = await tx<MessageRow[]>`
    select ${tx.unsafe(cols)} from alphadome.bot_message_logs
     where conversation_id = ${conversationId}
     order by created_at desc limit ${opts.limit ?? 50}`;
  return rows.reverse().map((r) => ({ ...r }));
}

/**
 * insertOutboundMessage in one statement (so it can be pipelined behind other statements of the
 * transaction): the new row, or the existing one with that key. `row` is null only if another
 * transaction inserted the key after this statement's snapshot was taken (then nothing here
 * knows its state: treat it as still to be sent; the send job is idempotent).
 */
export async function insertOutboundMessageOnce(tx: Tx, m: OutboundMessageInput): Promise<{ row: MessageRow | null; created: boolean }> {
  const rows = await tx<(MessageRow & { created: boolean })[]>`
    with ins as (
      insert into alphadome.bot_message_logs
        (tenant_id, conversation_id, direction, idempotency_key, wa_id, message_type, body, payload, status, status_at,
         answer_path, template_id, faq_id, reply_to_wamid, sent_by)
      values (${m.tenantId}, ${m.conversationId}, 'outbound', ${m.idempotencyKey}, ${m.waId}, ${m.messageType}, ${m.body},
              ${tx.json(m.payload as never)}, 'queued', now(), ${m.answerPath}, ${m.templateId ?? null}, ${m.faqId ?? null},
              ${m.replyToWamid ?? null}, ${m.sentBy ?? 'bot'})
      on conflict (tenant_id, idempotency_key) do nothing
      returning ${tx.unsafe(cols)}
    )
    select ${tx.unsafe(cols)}, true as created from ins
    union all
    select ${tx.unsafe(cols)}, false from alphadome.bot_message_logs
     where idempotency_key = ${m.idempotencyKey} and not exists (select 1 from ins)`;
  const r = rows[0];
  if (!r) return { row: null, created: false };
  const { created, ...row } = r;
  return { row: row as MessageRow, created };
}

/**
 * For the send stage, in one statement: the outbound row with this key and its conversation's
 * last inbound time (the 24-hour window). Null when there is no such row.
 */
export async function getOutboundForSend(tx: Tx, key: string): Promise<{ row: MessageRow; lastInboundAt: Date | null } | null> {
  const rows = await tx<(MessageRow & { conversation_last_inbound_at: Date | null })[]>`
    select ${tx.unsafe(colsOfM)}, c.last_inbound_at as conversation_last_inbound_at
      from alphadome.bot_message_logs m left join alphadome.bot_conversations c on c.id = m.conversation_id
     where m.idempotency_key = ${key}`;
  const r = rows[0];
  if (!r) return null;
  const { conversation_last_inbound_at, ...row } = r;
  return { row: row as MessageRow, lastInboundAt: row.conversation_id ? conversation_last_inbound_at : null };
}
