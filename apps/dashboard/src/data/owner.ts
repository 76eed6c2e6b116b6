import { AppError, isUniqueViolation, isUuid, templateInputSchema, type Faq, type Template, type TemplateInput, type Tx } from '@alphadome/tenant-core';

/**
 * Dashboard-specific queries. Every function takes a withTenant transaction, so RLS limits
 * it to the session's tenant whatever the arguments; the explicit tenant filters are for the
 * indexes. An id that is not a uuid is simply not found.
 */

export async function searchFaqs(tx: Tx, tenantId: string, q: string, limit = 200): Promise<Faq[]> {
  const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await tx<
    { id: string; tenant_id: string; question: string; answer: string; language: string; tags: string[]; is_active: boolean; created_at: Date; updated_at: Date }[]
  >`select id, tenant_id, question, answer, language, tags, is_active, created_at, updated_at
      from alphadome.bot_training_data
     where tenant_id = ${tenantId} ${q ? tx`and (question ilike ${pattern} or answer ilike ${pattern})` : tx``}
     order by created_at desc, id limit ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    question: r.question,
    answer: r.answer,
    language: r.language,
    tags: r.tags,
    isActive: r.is_active,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}

interface TemplateRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: Template['kind'];
  triggers: string[];
  body: string;
  language: string;
  wa_template_name: string | null;
  wa_template_language: string | null;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}
const toTemplate = (r: TemplateRow): Template => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  kind: r.kind,
  triggers: r.triggers,
  body: r.body,
  language: r.language,
  waTemplateName: r.wa_template_name,
  waTemplateLanguage: r.wa_template_language,
  isActive: r.is_active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function getTemplateById(tx: Tx, tenantId: string, id: string): Promise<Template | null> {
  if (!isUuid(id)) return null;
  const rows = await tx<TemplateRow[]>`select * from alphadome.bot_templates where tenant_id = ${tenantId} and id = ${id}`;
  return rows[0] ? toTemplate(rows[0]) : null;
}

/** Replace name, triggers, body, language and active flag of one template; null when not found. */
export async function updateTemplateById(tx: Tx, tenantId: string, id: string, input: TemplateInput): Promise<Template | null> {
  if (!isUuid(id)) return null;
  const t = templateInputSchema.parse(input);
  try {
    const rows = await tx<TemplateRow[]>`
      update alphadome.bot_templates
         set name = ${t.name}, kind = ${t.kind}, triggers = ${t.triggers}::text[], body = ${t.body},
             language = ${t.language}, is_active = ${t.isActive}
       where tenant_id = ${tenantId} and id = ${id} returning *`;
    return rows[0] ? toTemplate(rows[0]) : null;
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `a reply named "${t.name}" exists already`);
    throw err;
  }
}

export interface ConversationListItem {
  id: string;
  wa_id: string;
  name: string | null;
  mode: 'bot' | 'human';
  unread_count: number;
  last_message_at: Date | null;
  last_body: string | null;
}

/** Conversations, most recent first, with the last message's text; `q` matches number, name or text. */
export async function listConversations(tx: Tx, tenantId: string, opts: { q?: string; limit?: number } = {}): Promise<ConversationListItem[]> {
  const q = (opts.q ?? '').trim();
  const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return tx<ConversationListItem[]>`
    select c.id, c.wa_id, k.name, c.mode, c.unread_count, c.last_message_at,
           (select m.body from alphadome.bot_message_logs m
             where m.tenant_id = c.tenant_id and m.conversation_id = c.id
             order by m.created_at desc limit 1) as last_body
      from alphadome.bot_conversations c
      left join alphadome.bot_contacts k on k.id = c.contact_id
     where c.tenant_id = ${tenantId}
       ${q
         ? tx`and (c.wa_id ilike ${pattern} or k.name ilike ${pattern}
                  or exists (select 1 from alphadome.bot_message_logs m
                              where m.tenant_id = c.tenant_id and m.conversation_id = c.id and m.body ilike ${pattern}))`
         : tx``}
     order by c.last_message_at desc nulls last, c.id
     limit ${opts.limit ?? 50}`;
}

export interface ConversationDetail {
  id: string;
  wa_id: string;
  name: string | null;
  mode: 'bot' | 'human';
  unread_count: number;
  last_inbound_at: Date | null;
}

export async function getConversationDetail(tx: Tx, tenantId: string, id: string): Promise<ConversationDetail | null> {
  if (!isUuid(id)) return null;
  const rows = await tx<ConversationDetail[]>`
    select c.id, c.wa_id, k.name, c.mode, c.unread_count, c.last_inbound_at
      from alphadome.bot_conversations c left join alphadome.bot_contacts k on k.id = c.contact_id
     where c.tenant_id = ${tenantId} and c.id = ${id}`;
  return rows[0] ?? null;
}

export async function markConversationRead(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx`update alphadome.bot_conversations set unread_count = 0
            where tenant_id = ${tenantId} and id = ${id} and unread_count <> 0`;
}
