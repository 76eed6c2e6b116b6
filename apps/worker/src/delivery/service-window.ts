import { appendAudit, markOutboundFailed, setConversationMode, type MessageRow, type Tx } from '@alphadome/tenant-core';
import { templateMessage } from '@alphadome/whatsapp';

/**
 * Meta's 24-hour customer-service window: outside it (the customer last wrote more than 24 h
 * ago, or Meta answered 131047) a free-form message is not attempted. The tenant's approved
 * WhatsApp template (bot_templates kind 'wa_template', wa_template_name / _language) is sent
 * in its place; a tenant without one gets the conversation flagged for a person instead.
 */
export const OUTSIDE_WINDOW_CODE = 131047;

export type WindowFallback = { kind: 'template'; payload: Record<string, unknown>; templateName: string } | { kind: 'human' };

export function outsideWindow(lastInboundAt: Date | null, now: number, windowMs: number): boolean {
  return lastInboundAt !== null && now - lastInboundAt.getTime() > windowMs;
}

export async function applyWindowFallback(tx: Tx, tenantId: string, row: MessageRow, why: 'last_inbound' | 'meta_131047'): Promise<WindowFallback> {
  const [tpl] = await tx<{ id: string; body: string; wa_template_name: string; lang: string }[]>`
    select id, body, wa_template_name, coalesce(nullif(wa_template_language, ''), language, 'en') as lang
      from alphadome.bot_templates
     where kind = 'wa_template' and is_active and coalesce(wa_template_name, '') <> ''
     order by created_at, id limit 1`;
  if (tpl && row.message_type !== 'template') {
    const payload = templateMessage(row.wa_id ?? '', tpl.wa_template_name, tpl.lang) as unknown as Record<string, unknown>;
    await tx`update alphadome.bot_message_logs
                set payload = ${tx.json(payload as never)}, message_type = 'template', template_id = ${tpl.id},
                    body = ${tpl.body || `[template ${tpl.wa_template_name}]`}
              where id = ${row.id} and wamid is null`;
    await appendAudit(tx, {
      tenantId,
      actor: 'worker',
      action: 'message.template_substituted',
      detail: { messageId: row.id, template: tpl.wa_template_name, reason: why },
    });
    return { kind: 'template', payload, templateName: tpl.wa_template_name };
  }
  await markOutboundFailed(tx, row.id, {
    code: OUTSIDE_WINDOW_CODE,
    title: tpl
      ? 'Outside the 24-hour window and the approved template was refused; flagged for a person'
      : 'Outside the 24-hour window and no approved template is configured; flagged for a person',
  });
  if (row.conversation_id) await setConversationMode(tx, row.conversation_id, 'human');
  await appendAudit(tx, {
    tenantId,
    actor: 'worker',
    action: 'conversation.handover',
    detail: { conversationId: row.conversation_id, messageId: row.id, reason: 'outside_24h_window', source: why },
  });
  return { kind: 'human' };
}
