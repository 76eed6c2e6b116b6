import nodemailer from 'nodemailer';
import type { Alert, AlertChannel, AlertRecipients, ChannelResult } from './types.ts';
import { errorText } from './types.ts';

export interface EmailChannelOptions {
  /** smtp://user:pass@host:port or smtps://… (nodemailer's URL form) */
  smtpUrl: string;
  from: string;
}

/** Alerts by email (SMTP through nodemailer): one mail to the tenant's contact, one to the operators. */
export function emailAlertChannel(opts: EmailChannelOptions): AlertChannel {
  const transport = nodemailer.createTransport(opts.smtpUrl);
  const send = async (audience: 'tenant' | 'operators', to: string[], subject: string, text: string): Promise<ChannelResult> => {
    const shown = to.join(', ');
    try {
      await transport.sendMail({ from: opts.from, to, subject, text });
      return { channel: 'email', audience, to: shown, ok: true };
    } catch (err) {
      return { channel: 'email', audience, to: shown, ok: false, error: errorText(err) };
    }
  };
  return {
    name: 'email',
    async deliver(alert: Alert, r: AlertRecipients): Promise<ChannelResult[]> {
      const out: ChannelResult[] = [];
      if (r.tenantEmail) out.push(await send('tenant', [r.tenantEmail], alert.subject, alert.text));
      if (r.operatorEmails.length > 0) {
        out.push(await send('operators', [...r.operatorEmails], `[Alphadome] ${r.tenantName}: ${alert.subject}`, `${alert.text}\n\ntenant: ${r.tenantName} (${alert.tenantId})`));
      }
      return out;
    },
    async close() {
      transport.close();
    },
  };
}
