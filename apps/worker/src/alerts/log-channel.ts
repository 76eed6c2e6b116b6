import type { Logger } from '@alphadome/tenant-core';
import type { Alert, AlertChannel, AlertRecipients, ChannelResult } from './types.ts';

/** Every alert also goes to the log (at warn), where log-based alerting can pick it up. */
export function logAlertChannel(logger: Logger): AlertChannel {
  return {
    name: 'log',
    async deliver(alert: Alert, to: AlertRecipients): Promise<ChannelResult[]> {
      logger.warn({ alert: { tenantId: alert.tenantId, tenant: to.tenantName, kind: alert.kind, key: alert.dedupeKey } }, `ALERT: ${alert.subject}`);
      return [{ channel: 'log', audience: 'log', to: 'log', ok: true }];
    },
  };
}
