import type { Keyring, Logger, Sql, TenantContextCache } from '@alphadome/tenant-core';
import type { GraphClient } from '@alphadome/whatsapp';
import type { LlmClient, Transcriber } from './llm.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { WorkerQueues } from './queues.ts';

/** What every processor gets. Built once by startWorker; no secrets in here but the keyring. */
export interface ProcessorDeps {
  sql: Sql;
  keyring: Keyring | null;
  contexts: TenantContextCache;
  queues: WorkerQueues;
  graph: GraphClient;
  llm: LlmClient | null;
  platformApiKey: string | undefined;
  platformModel: string;
  metrics: WorkerMetrics;
  logger: Logger;
  /** redis connection + prefix, to announce tenant changes (credentials marked invalid) */
  redisUrl: string;
  prefix: string;
  /** speech to text for voice notes (issue 6); null/absent = voice notes are acknowledged only */
  transcribe?: Transcriber | null;
  /** base of the conversation links sent to a tenant's escalation contact (PUBLIC_DASHBOARD_URL) */
  publicDashboardUrl?: string | undefined;
  /** other tenants' display names/numbers for the output guard, cached per tenant */
  foreignMarkers?: Map<string, { at: number; markers: string[] }>;
}
