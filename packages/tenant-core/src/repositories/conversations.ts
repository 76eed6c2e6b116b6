import type { Tx } from '../db.ts';

export interface ConversationRow {
  id: string;
  contact_id: string;
  wa_id: string;
  mode: 'bot' | 'human';
  unread_count: number;
  last_message_at: Date | null;
  last_inbound_at: Date | null;
}

/**
 * Record an inbound message on the contact and the conversation (creating both on first
 * contact): unread count up, last_inbound_at / last_message_at moved forward only.
 */
export async function upsertContactAndConversation(
  tx: Tx,
  input: { tenantId: string; waId: string; name?: string | undefined; at: Date },
): Promise<ConversationRow> {
  // one statement (contact, then its conversation): the message path runs this per inbound message
  const [conversation] = await tx<ConversationRow[]>`
    with contact as (
      insert into alphadome.bot_contacts (tenant_id, wa_id, name, last_inbound_at)
      values (${input.tenantId}, ${input.waId}, ${input.name ?? null}, ${input.at})
      on conflict (tenant_id, wa_id) do update
        set name = coalesce(excluded.name, alphadome.bot_contacts.name),
            last_inbound_at = greatest(alphadome.bot_contacts.last_inbound_at, excluded.last_inbound_at),
            updated_at = now()
      returning id
    )
    insert into alphadome.bot_conversations (tenant_id, contact_id, wa_id, unread_count, last_message_at, last_inbound_at)
    values (${input.tenantId}, (select id from contact), ${input.waId}, 1, ${input.at}, ${input.at})
    on conflict (tenant_id, wa_id) do update
      set unread_count = alphadome.bot_conversations.unread_count + 1,
          last_message_at = greatest(alphadome.bot_conversations.last_message_at, excluded.last_message_at),
          last_inbound_at = greatest(alphadome.bot_conversations.last_inbound_at, excluded.last_inbound_at),
          updated_at = now()
    returning id, contact_id, wa_id, mode, unread_count, last_message_at, last_inbound_at`;
  return conversation!;
}

export async function getConversationByWaId(tx: Tx, waId: string): Promise<ConversationRow | null> {
  const rows = await tx<ConversationRow[]>`
    select id, contact_id, wa_id, mode, unread_count, last_message_at, last_inbound_at
      from alphadome.bot_conversations where wa_id = ${waId}`;
  return rows[0] ?? null;
}

export async function getConversation(tx: Tx, id: string): Promise<ConversationRow | null> {
  const rows = await tx<ConversationRow[]>`
    select id, contact_id, wa_id, mode, unread_count, last_message_at, last_inbound_at
      from alphadome.bot_conversations where id = ${id}`;
  return rows[0] ?? null;
}

/** An outbound message moves the conversation's last activity forward. */
export async function touchConversationOutbound(tx: Tx, id: string, at: Date): Promise<void> {
  await tx`update alphadome.bot_conversations
              set last_message_at = greatest(last_message_at, ${at}), updated_at = now()
            where id = ${id}`;
}

export async function setConversationMode(tx: Tx, id: string, mode: 'bot' | 'human'): Promise<void> {
  await tx`update alphadome.bot_conversations
              set mode = ${mode}, mode_changed_at = now(), updated_at = now()
            where id = ${id} and mode <> ${mode}`;
}
