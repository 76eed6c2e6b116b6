import { z } from 'zod';
import { appendAudit, getControlSettings, withTenant, type Logger, type Sql } from '@alphadome/tenant-core';
import type { Alert, AlertChannel, AlertRecipients, ChannelResult } from './types.ts';
import { errorText } from './types.ts';

export interface AlertsConfig {
  smtpUrl?: string | undefined;
  emailFrom: string;
  operatorEmails: string[];
  operatorPhones: string[];
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

const envSchema = z.object({
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'smtp:// or smtps:// URL').optional(),
  ALERT_EMAIL_FROM: z.string().min(3).optional(),
  OPERATOR_EMAILS: z.string().optional(),
  OPERATOR_PHONES: z.string().optional(),
});

/** SMTP_URL, ALERT_EMAIL_FROM, OPERATOR_EMAILS (comma list), OPERATOR_PHONES (comma list). */
export function alertsConfigFromEnv(env: NodeJS.ProcessEnv): AlertsConfig {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const e = parsed.data;
  const emails = list(e.OPERATOR_EMAILS);
  const bad = emails.find((m) => !/^[^@\s]+@[^@\s]+$/.test(m));
  if (bad) throw new Error(`OPERATOR_EMAILS: "${bad}" is not an email address`);
  return {
    smtpUrl: e.SMTP_URL,
    emailFrom: e.ALERT_EMAIL_FROM ?? 'Alphadome alerts <alerts@localhost>',
    operatorEmails: emails,
    operatorPhones: list(e.OPERATOR_PHONES),
  };
}

export interface RaiseResult {
  /** false: this alert had been sent already (dedupe key seen) */
  sent: boolean;
  results: ChannelResult[];
}

/**
 * Sends an alert once: the first raiser records (tenant, dedupe key) in bot_alerts and sends
 * it through every channel; later raisers (another worker, the next maintenance run) find the
 * row and send nothing. Every alert sent is recorded in the tenant's audit log, with what each
 * channel did. A channel that fails does not stop the others.
 */
export class Alerter {
  constructor(
    private readonly opts: {
      sql: Sql;
      channels: AlertChannel[];
      operatorEmails?: readonly string[];
      operatorPhones?: readonly string[];
      logger: Logger;
      onSent?: (alert: Alert, results: ChannelResult[]) => void;
    },
  ) {}

  get channels(): readonly AlertChannel[] {
    return this.opts.channels;
  }

  async raise(alert: Alert): Promise<RaiseResult> {
    const first = await withTenant(this.opts.sql, alert.tenantId, async (tx) => {
      const rows = await tx`
        insert into alphadome.bot_alerts (tenant_id, kind, dedupe_key, detail)
        values (${alert.tenantId}, ${alert.kind}, ${alert.dedupeKey}, ${tx.json((alert.detail ?? {}) as never)})
        on conflict (tenant_id, dedupe_key) do nothing returning id`;
      if (rows.length === 0) return null;
      const [t] = await tx<{ client_name: string }[]>`select client_name from alphadome.bot_tenants where id = ${alert.tenantId}`;
      const s = await getControlSettings(tx, alert.tenantId);
      return { name: t?.client_name ?? alert.tenantId, phone: s.escalationPhone, email: s.escalationEmail };
    });
    if (!first) return { sent: false, results: [] };
    const to: AlertRecipients = {
      tenantName: first.name,
      tenantPhone: first.phone,
      tenantEmail: first.email,
      operatorEmails: this.opts.operatorEmails ?? [],
      operatorPhones: this.opts.operatorPhones ?? [],
    };
    const results: ChannelResult[] = [];
    for (const channel of this.opts.channels) {
      try {
        results.push(...(await channel.deliver(alert, to)));
      } catch (err) {
        results.push({ channel: channel.name, audience: 'log', to: '', ok: false, error: errorText(err) });
      }
    }
    for (const r of results.filter((x) => !x.ok)) {
      this.opts.logger.error({ tenantId: alert.tenantId, kind: alert.kind, channel: r.channel, to: r.to, err: r.error }, 'alert channel failed');
    }
    await withTenant(this.opts.sql, alert.tenantId, (tx) =>
      appendAudit(tx, {
        tenantId: alert.tenantId,
        actor: 'worker',
        action: 'alert.sent',
        detail: { kind: alert.kind, key: alert.dedupeKey, subject: alert.subject, ...(alert.detail ?? {}), channels: results },
      }),
    );
    this.opts.onSent?.(alert, results);
    return { sent: true, results };
  }

  async close(): Promise<void> {
    await Promise.all(this.opts.channels.map((c) => c.close?.().catch(() => undefined)));
  }
}
