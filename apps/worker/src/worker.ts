import { Worker, type Job, type Processor } from 'bullmq';
import {
  createLogger,
  createSql,
  queueNames,
  TenantContextCache,
  type Keyring,
  type Logger,
  type Sql,
} from '@alphadome/tenant-core';
import { createGraphClient, type GraphClient } from '@alphadome/whatsapp';
import type { ProcessorDeps } from './deps.ts';
import { createLlmClient, type LlmClient } from './llm.ts';
import { WorkerMetrics } from './metrics.ts';
import { inboundProcessor } from './processors/inbound.ts';
import { replyProcessor } from './processors/reply.ts';
import { sendProcessor } from './processors/send.ts';
import { statusProcessor } from './processors/status.ts';
import { connectionFromUrl, createWorkerQueues, defaultRetryPolicy, type RetryPolicy, type WorkerQueues } from './queues.ts';

export interface StartWorkerOptions {
  /** a pool to use (not closed by the worker); or databaseUrl to make one */
  sql?: Sql;
  databaseUrl?: string;
  redisUrl: string;
  prefix: string;
  keyring: Keyring | null;
  graph?: GraphClient;
  graphApiBaseUrl?: string;
  graphApiVersion?: string;
  /** OpenAI-compatible server; the SDK default when unset */
  openaiBaseUrl?: string | undefined;
  openaiApiKey?: string | undefined;
  openaiModel?: string;
  llm?: LlmClient | null;
  concurrency?: number;
  /** how often stalled jobs are looked for (BullMQ default 30 s) */
  stalledIntervalMs?: number;
  /** how long a job's lock lives without renewal; a killed worker's job is taken over after it */
  lockDurationMs?: number;
  retry?: Partial<RetryPolicy>;
  contextTtlMs?: number;
  logger?: Logger;
  metrics?: WorkerMetrics;
  /** which queues to work (default all four) */
  queues?: readonly ('inbound' | 'reply' | 'send' | 'status')[];
}

export interface WorkerHandle {
  workers: Worker[];
  queues: WorkerQueues;
  metrics: WorkerMetrics;
  contexts: TenantContextCache;
  /** true once every BullMQ worker is connected and running */
  isReady(): boolean;
  /** stop taking jobs, let active ones finish, close connections */
  close(): Promise<void>;
}

/** Start the four processors; usable in-process (tests) and by main.ts (`npm run start:worker`). */
export async function startWorker(opts: StartWorkerOptions): Promise<WorkerHandle> {
  const logger = opts.logger ?? createLogger('worker');
  const ownSql = !opts.sql;
  const sql = opts.sql ?? createSql({ url: required(opts.databaseUrl, 'databaseUrl'), name: 'alphadome-worker' });
  const retry: RetryPolicy = { ...defaultRetryPolicy, ...opts.retry };
  const queues = createWorkerQueues({ redisUrl: opts.redisUrl, prefix: opts.prefix, retry });
  const metrics = opts.metrics ?? new WorkerMetrics();
  const contexts = new TenantContextCache({ sql, keyring: opts.keyring, ...(opts.contextTtlMs !== undefined ? { ttlMs: opts.contextTtlMs } : {}) });
  await contexts.subscribe(opts.redisUrl, opts.prefix);

  const deps: ProcessorDeps = {
    sql,
    keyring: opts.keyring,
    contexts,
    queues,
    graph:
      opts.graph ??
      createGraphClient({
        ...(opts.graphApiBaseUrl ? { baseUrl: opts.graphApiBaseUrl } : {}),
        ...(opts.graphApiVersion ? { version: opts.graphApiVersion } : {}),
      }),
    llm: opts.llm === undefined ? createLlmClient({ baseURL: opts.openaiBaseUrl }) : opts.llm,
    platformApiKey: opts.openaiApiKey,
    platformModel: opts.openaiModel ?? 'gpt-4o-mini',
    metrics,
    logger,
    redisUrl: opts.redisUrl,
    prefix: opts.prefix,
  };

  const connection = connectionFromUrl(opts.redisUrl);
  const common = {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency ?? 16,
    ...(opts.stalledIntervalMs !== undefined ? { stalledInterval: opts.stalledIntervalMs } : {}),
    ...(opts.lockDurationMs !== undefined ? { lockDuration: opts.lockDurationMs } : {}),
    autorun: false,
  };
  const processors: Record<'inbound' | 'reply' | 'send' | 'status', Processor> = {
    inbound: inboundProcessor(deps) as Processor,
    reply: replyProcessor(deps) as Processor,
    send: sendProcessor(deps) as Processor,
    status: statusProcessor(deps) as Processor,
  };
  const names = opts.queues ?? (['inbound', 'reply', 'send', 'status'] as const);
  const workers = names.map((name) => {
    const processor = processors[name];
    const timed: Processor = async (job: Job, token?: string) => {
      const end = metrics.jobDuration.startTimer({ queue: name });
      try {
        return await processor(job, token);
      } finally {
        end();
      }
    };
    const w = new Worker(queueNames[name], timed, common);
    w.on('completed', () => metrics.jobsProcessed.inc({ queue: name }));
    w.on('failed', (job, err) => {
      const final = !job || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      metrics.jobsFailed.inc({ queue: name, final: String(final) });
      if (final) {
        logger.error({ queue: name, jobId: job?.id, tenantId: (job?.data as { tenantId?: string })?.tenantId, err: err.message }, 'job failed for good');
      }
    });
    w.on('error', (err) => logger.error({ queue: name, err: err.message }, 'worker error'));
    w.on('stalled', (jobId) => logger.warn({ queue: name, jobId }, 'job stalled; it will be processed again'));
    return w;
  });
  for (const w of workers) void w.run().catch((err: Error) => logger.error({ err: err.message }, 'worker stopped'));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ queues: names, prefix: opts.prefix, concurrency: common.concurrency }, 'worker started');

  let closing: Promise<void> | null = null;
  return {
    workers,
    queues,
    metrics,
    contexts,
    isReady: () => !closing && workers.every((w) => w.isRunning()),
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await queues.close();
        await contexts.close();
        if (ownSql) await sql.end({ timeout: 5 });
        logger.info('worker stopped');
      })();
      return closing;
    },
  };
}

function required<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new Error(`startWorker: ${name} is required`);
  return v;
}
