import type { Keyring, Logger, Sql, TenantContextCache } from '@alphadome/tenant-core';
import type { GraphClient } from '@alphadome/whatsapp';
import type { LlmClient } from './llm.ts';
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
}
