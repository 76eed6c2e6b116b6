import {
  insertOutboundMessage,
  markOutboundAccepted,
  markOutboundFailed,
  withTenant,
  type Logger,
  type Sql,
  type TenantContextCache,
} from '@alphadome/tenant-core';
import { GraphApiError, textMessage, type GraphClient } from '@alphadome/whatsapp';
import type { Alert, AlertChannel, AlertRecipients, ChannelResult } from './types.ts';
import { errorText } from './types.ts';

export interface WhatsAppChannelOptions {
  sql: Sql;
  contexts: TenantContextCache;
  graph: GraphClient;
  logger: Logger;
}

const digits = (phone: string) => phone.replace(/\D/g, '');

/**
 * Alerts as a WhatsApp message from the platform's own number (the tenant with is_platform)
 * to the tenant's escalation phone and the operators' phones. Each message is stored in the
 * platform tenant's message log (answer path 'system', idempotent per alert and recipient).
 * Meta delivers free-form text only inside the customer-service window: an escalation
 * contact that never wrote to the platform number needs an approved template (see docs).
 */
export function whatsappAlertChannel(opts: WhatsAppChannelOptions): AlertChannel {
  return {
    name: 'whatsapp',
    async deliver(alert: Alert, r: AlertRecipients): Promise<ChannelResult[]> {
      const targets: { audience: 'tenant' | 'operators'; to: string }[] = [];
      if (r.tenantPhone && digits(r.tenantPhone)) targets.push({ audience: 'tenant', to: digits(r.tenantPhone) });
      for (const p of r.operatorPhones) if (digits(p)) targets.push({ audience: 'operators', to: digits(p) });
      if (targets.length === 0) return [];
      const [row] = await opts.sql<{ id: string | null }[]>`select alphadome.platform_tenant_id() as id`;
      const platformId = row?.id ?? null;
      const ctx = platformId ? await opts.contexts.get(platformId) : null;
      const token = ctx?.secrets.whatsappToken ?? null;
      if (!platformId || !ctx || !token || !ctx.phoneNumberId || ctx.credentialStatus === 'invalid') {
        return targets.map((t) => ({ channel: 'whatsapp', audience: t.audience, to: t.to, ok: false, error: 'no usable platform number' }));
      }
      const out: ChannelResult[] = [];
      for (const t of targets) {
        const text = t.audience === 'operators' ? `[Alphadome] ${r.tenantName}: ${alert.text}` : alert.text;
        const payload = textMessage(t.to, text);
        try {
          const stored = await withTenant(opts.sql, platformId, (tx) =>
            insertOutboundMessage(tx, {
              tenantId: platformId,
              conversationId: null,
              idempotencyKey: `alert:${alert.tenantId}:${alert.dedupeKey}:${t.to}`,
              waId: t.to,
              messageType: 'text',
              body: payload.text.body,
              payload: payload as unknown as Record<string, unknown>,
              answerPath: 'system',
            }),
          );
          if (stored.row.wamid) {
            out.push({ channel: 'whatsapp', audience: t.audience, to: t.to, ok: true });
            continue;
          }
          try {
            const { wamid } = await opts.graph.sendMessage(ctx.phoneNumberId, token, payload);
            await withTenant(opts.sql, platformId, (tx) => markOutboundAccepted(tx, stored.row.id, wamid));
            out.push({ channel: 'whatsapp', audience: t.audience, to: t.to, ok: true });
          } catch (err) {
            if (err instanceof GraphApiError) {
              await withTenant(opts.sql, platformId, (tx) => markOutboundFailed(tx, stored.row.id, { code: err.code, title: err.title }));
            }
            out.push({ channel: 'whatsapp', audience: t.audience, to: t.to, ok: false, error: errorText(err) });
          }
        } catch (err) {
          opts.logger.warn({ err: errorText(err) }, 'whatsapp alert not stored');
          out.push({ channel: 'whatsapp', audience: t.audience, to: t.to, ok: false, error: errorText(err) });
        }
      }
      return out;
    },
  };
}
