/** An alert about one tenant: its credentials were rejected, its token expires soon… */
export interface Alert {
  tenantId: string;
  kind: 'credentials_invalid' | 'token_expiring' | 'token_expired';
  /** sent once per (tenant, dedupeKey), however many workers raise it */
  dedupeKey: string;
  subject: string;
  text: string;
  /** extra facts for the audit log (never secrets) */
  detail?: Record<string, unknown>;
}

/** Who hears about it: the tenant's escalation contact and the platform's operators. */
export interface AlertRecipients {
  tenantName: string;
  tenantPhone: string | null;
  tenantEmail: string | null;
  operatorEmails: readonly string[];
  operatorPhones: readonly string[];
}

export interface ChannelResult {
  channel: string;
  audience: 'tenant' | 'operators' | 'log';
  to: string;
  ok: boolean;
  error?: string;
}

/** A way to deliver alerts (WhatsApp from the platform number, email, the log…). */
export interface AlertChannel {
  readonly name: string;
  deliver(alert: Alert, to: AlertRecipients): Promise<ChannelResult[]>;
  close?(): Promise<void>;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 300);
