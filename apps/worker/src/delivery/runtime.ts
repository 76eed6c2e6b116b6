import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { onTenantChanged, redisOptionsFromUrl, type Logger, type Sql, type TenantContextCache } from '@alphadome/tenant-core';
import type { GraphClient } from '@alphadome/whatsapp';
import { Alerter, type AlertsConfig } from '../alerts/alerter.ts';
import { emailAlertChannel } from '../alerts/email-channel.ts';
import { logAlertChannel } from '../alerts/log-channel.ts';
import type { AlertChannel } from '../alerts/types.ts';
import { whatsappAlertChannel } from '../alerts/whatsapp-channel.ts';
import type { WorkerMetrics } from '../metrics.ts';
import { defaultDeliveryConfig, type DeliveryConfig } from './config.ts';
import { resumeAll, resumeTenant, type CredentialDeps } from './credentials.ts';
import { SendRateLimiter } from './rate-limiter.ts';

/** What the send and maintenance processors share: limiter, alerter, credential handling. */
export interface DeliveryRuntime extends CredentialDeps {
  config: DeliveryConfig;
  limiter: SendRateLimiter;
  sendQueue: Queue;
  /** promote a tenant's parked sends if its credential is usable again */
  resume(tenantId: string): Promise<number>;
  close(): Promise<void>;
}

export interface DeliveryRuntimeOptions {
  sql: Sql;
  redisUrl: string;
  prefix: string;
  contexts: TenantContextCache;
  graph: GraphClient;
  logger: Logger;
  metrics: WorkerMetrics;
  sendQueue: Queue;
  config?: Partial<DeliveryConfig>;
  alerts?: Partial<AlertsConfig>;
  /** replaces the default channels (log, WhatsApp from the platform number, email when SMTP is set) */
  alertChannels?: AlertChannel[];
}

export async function createDeliveryRuntime(o: DeliveryRuntimeOptions): Promise<DeliveryRuntime> {
  const config: DeliveryConfig = { ...defaultDeliveryConfig, ...o.config };
  const redis = new Redis({ ...redisOptionsFromUrl(o.redisUrl), maxRetriesPerRequest: 3 });
  redis.on('error', (err: Error) => o.logger.warn({ err: err.message }, 'delivery redis connection error'));
  const channels =
    o.alertChannels ??
    [
      logAlertChannel(o.logger),
      whatsappAlertChannel({ sql: o.sql, contexts: o.contexts, graph: o.graph, logger: o.logger }),
      ...(o.alerts?.smtpUrl ? [emailAlertChannel({ smtpUrl: o.alerts.smtpUrl, from: o.alerts.emailFrom ?? 'Alphadome alerts <alerts@localhost>' })] : []),
    ];
  const alerter = new Alerter({
    sql: o.sql,
    channels,
    operatorEmails: o.alerts?.operatorEmails ?? [],
    operatorPhones: o.alerts?.operatorPhones ?? [],
    logger: o.logger,
  });
  const rt: DeliveryRuntime = {
    sql: o.sql,
    redis,
    redisUrl: o.redisUrl,
    prefix: o.prefix,
    contexts: o.contexts,
    alerter,
    logger: o.logger,
    metrics: o.metrics,
    config,
    limiter: new SendRateLimiter(redis, o.prefix),
    sendQueue: o.sendQueue,
    resume: (tenantId) => resumeTenant(rt, o.sendQueue, tenantId),
    close: async () => {
      await unsubscribe();
      await alerter.close();
      redis.disconnect();
    },
  };
  // a replaced credential (CLI / dashboard announce the change) resumes parked sends at once
  const unsubscribe = await onTenantChanged(o.redisUrl, o.prefix, (id) => {
    const p = id === '*' ? resumeAll(rt, o.sendQueue) : resumeTenant(rt, o.sendQueue, id);
    p.catch((err: Error) => o.logger.warn({ tenantId: id, err: err.message }, 'resume of parked sends failed'));
  });
  return rt;
}
