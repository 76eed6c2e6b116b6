import { Queue, Worker, type Job, type Processor } from 'bullmq';
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
import { createLlmClient, createTranscriber, type LlmClient, type Transcriber } from './llm.ts';
import { WorkerMetrics } from './metrics.ts';
import { inboundProcessor } from './processors/inbound.ts';
import { replyProcessor } from './processors/reply.ts';
import { sendProcessor } from './processors/send.ts';
import { statusProcessor } from './processors/status.ts';
import { maintenanceJobs, maintenanceProcessor, type MaintenanceOptions } from './processors/maintenance.ts';
import type { AlertsConfig } from './alerts/alerter.ts';
import type { AlertChannel } from './alerts/types.ts';
import type { DeliveryConfig } from './delivery/config.ts';
import { releaseFairJob } from './delivery/fair-enqueue.ts';
import { deliveryBackoffStrategy } from './delivery/retry-policy.ts';
import { createDeliveryRuntime, type DeliveryRuntime } from './delivery/runtime.ts';
import { defaultTenantCaps, defaultTenantInflight, TenantInflight, type CappedQueue, type PromoteTarget, type TenantInflightConfig } from './delivery/tenant-inflight.ts';
import { connectionFromUrl, createWorkerQueues, defaultRetryPolicy, type RetryPolicy, type WorkerQueues } from './queues.ts';

/** Times a job may stall before BullMQ fails it (StartWorkerOptions.maxStalledCount, WORKER_MAX_STALLED_COUNT). */
export const DEFAULT_MAX_STALLED_COUNT = 5;
/** Deadline of a database transaction of the message path (createSql's txDeadlineMs, DATABASE_TX_DEADLINE_MS). */
export const DEFAULT_TX_DEADLINE_MS = 30_000;

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
  /** per-request timeout of the Graph client built here (GRAPH_TIMEOUT_MS; default 10 000) */
  graphTimeoutMs?: number;
  /** OpenAI-compatible server; the SDK default when unset */
  openaiBaseUrl?: string | undefined;
  openaiApiKey?: string | undefined;
  openaiModel?: string;
  llm?: LlmClient | null;
  /** speech to text for voice notes; default: OpenAI's audio API at openaiBaseUrl */
  transcribe?: Transcriber | null;
  /** base of the conversation links sent to escalation contacts (PUBLIC_DASHBOARD_URL) */
  publicDashboardUrl?: string | undefined;
  concurrency?: number;
  /** how often stalled jobs are looked for (BullMQ default 30 s) */
  stalledIntervalMs?: number;
  /** how long a job's lock lives without renewal; a killed worker's job is taken over after it */
  lockDurationMs?: number;
  /** times a job may stall (worker died / lock lost) before BullMQ fails it; default 5 */
  maxStalledCount?: number;
  retry?: Partial<RetryPolicy>;
  contextTtlMs?: number;
  logger?: Logger;
  metrics?: WorkerMetrics;
  /** delivery (issue 5): rate-limit margin, pair limit, delay bounds… (defaults in delivery/config.ts) */
  delivery?: Partial<DeliveryConfig>;
  /** alert channels' settings: SMTP_URL, ALERT_EMAIL_FROM, OPERATOR_EMAILS, OPERATOR_PHONES */
  alerts?: Partial<AlertsConfig>;
  /** replaces the default alert channels (log, WhatsApp from the platform number, email) */
  alertChannels?: AlertChannel[];
  /** app access token for Meta's debug_token in the token-expiry monitor */
  metaAppToken?: string | undefined;
  /**
   * the repeatable maintenance jobs (token expiry, backlog reconcile), scheduled and worked in
   * this process; off unless given (main.ts turns it on; tests call runMaintenance directly)
   */
  maintenance?: false | { tokenExpiryEveryMs?: number; reconcileEveryMs?: number };
  /** which queues to work (default all four) */
  queues?: readonly ('inbound' | 'reply' | 'send' | 'status')[];
  /**
   * per-tenant in-flight cap (delivery/tenant-inflight.ts): how many jobs of one tenant run at
   * once per queue, across workers (defaults from the concurrency); false turns it off
   */
  tenantInflight?: false | (Partial<Omit<TenantInflightConfig, 'caps'>> & { caps?: Partial<Record<CappedQueue, number>> });
}

export interface WorkerHandle {
  workers: Worker[];
  queues: WorkerQueues;
  metrics: WorkerMetrics;
  contexts: TenantContextCache;
  /** rate limiter, alerter, credential handling of the send path */
  delivery: DeliveryRuntime;
  /** run one maintenance job now, in this process (tests; operators) */
  runMaintenance(name: 'token-expiry' | 'backlog-reconcile'): Promise<unknown>;
  /** true once every BullMQ worker is connected and running */
  isReady(): boolean;
  /** stop taking jobs, let active ones finish, close connections */
  close(): Promise<void>;
}

/** Start the four processors; usable in-process (tests) and by main.ts (`npm run start:worker`). */
export async function startWorker(opts: StartWorkerOptions): Promise<WorkerHandle> {
  const logger = opts.logger ?? createLogger('worker');
  const ownSql = !opts.sql;
  const sql = opts.sql ?? createSql({ url: required(opts.databaseUrl, 'databaseUrl'), name: 'alphadome-worker', txDeadlineMs: DEFAULT_TX_DEADLINE_MS });
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
        ...(opts.graphTimeoutMs !== undefined ? { timeoutMs: opts.graphTimeoutMs } : {}),
      }),
    llm: opts.llm === undefined ? createLlmClient({ baseURL: opts.openaiBaseUrl }) : opts.llm,
    platformApiKey: opts.openaiApiKey,
    platformModel: opts.openaiModel ?? 'gpt-4o-mini',
    metrics,
    logger,
    redisUrl: opts.redisUrl,
    prefix: opts.prefix,
    transcribe: opts.transcribe === undefined ? createTranscriber({ baseURL: opts.openaiBaseUrl }) : opts.transcribe,
    publicDashboardUrl: opts.publicDashboardUrl,
    foreignMarkers: new Map(),
  };

  const delivery = await createDeliveryRuntime({
    sql,
    redisUrl: opts.redisUrl,
    prefix: opts.prefix,
    contexts,
    graph: deps.graph,
    logger,
    metrics,
    sendQueue: queues.send as unknown as Queue,
    ...(opts.delivery ? { config: opts.delivery } : {}),
    ...(opts.alerts ? { alerts: opts.alerts } : {}),
    ...(opts.alertChannels ? { alertChannels: opts.alertChannels } : {}),
  });
  const maintenanceOpts: MaintenanceOptions = {
    metaAppToken: opts.metaAppToken,
    fairQueues: [queues.reply as unknown as Queue, queues.send as unknown as Queue],
  };
  const runMaintenance = maintenanceProcessor(deps, delivery, maintenanceOpts);

  const concurrency = opts.concurrency ?? 16;
  const inflight =
    opts.tenantInflight === false
      ? null
      : new TenantInflight(
          delivery.redis,
          opts.prefix,
          {
            ...defaultTenantInflight,
            ...opts.tenantInflight,
            caps: { ...defaultTenantCaps(concurrency), ...opts.tenantInflight?.caps },
          },
          (err) => logger.warn({ err: err.message }, 'tenant in-flight cap: promotion failed'),
        );

  const connection = connectionFromUrl(opts.redisUrl);
  const common = {
    connection,
    prefix: opts.prefix,
    concurrency,
    ...(opts.stalledIntervalMs !== undefined ? { stalledInterval: opts.stalledIntervalMs } : {}),
    ...(opts.lockDurationMs !== undefined ? { lockDuration: opts.lockDurationMs } : {}),
    maxStalledCount: opts.maxStalledCount ?? DEFAULT_MAX_STALLED_COUNT,
    autorun: false,
  };
  const processors: Record<'inbound' | 'reply' | 'send' | 'status', Processor> = {
    inbound: inboundProcessor(deps) as Processor,
    reply: replyProcessor(deps) as Processor,
    send: sendProcessor(deps, delivery) as Processor,
    status: statusProcessor(deps) as Processor,
  };
  const names = opts.queues ?? (['inbound', 'reply', 'send', 'status'] as const);
  const workers = names.map((name) => {
    const processor = processors[name];
    const capped = inflight !== null && inflight.capOf(name) > 0;
    const timed: Processor = async (job: Job, token?: string) => {
      const tenantId = (job.data as { tenantId?: string } | undefined)?.tenantId;
      // per-tenant in-flight cap: a tenant over it waits parked, holding no slot (fairness)
      const held = capped && !!tenantId && !!token && !!job.id;
      if (held && !(await inflight.acquire(name, tenantId!, job.id!))) {
        metrics.tenantParked.inc({ queue: name });
        return inflight.park(w, job, token!);
      }
      const end = metrics.jobDuration.startTimer({ queue: name });
      try {
        return await processor(job, token);
      } finally {
        end();
        if (held) await inflight.release(w, tenantId!, job.id!).catch((err: Error) => logger.warn({ queue: name, err: err.message }, 'tenant in-flight release failed'));
      }
    };
    // send: Meta-aware retry backoff (delivery/retry-policy.ts)
    const settings =
      name === 'send' ? { settings: { backoffStrategy: deliveryBackoffStrategy({ capMs: delivery.config.retryCapMs, pairRetryMinMs: delivery.config.pairRetryMinMs }) } } : {};
    const w = new Worker(queueNames[name], timed, { ...common, ...settings });
    // fairness backlog (delivery/fair-enqueue.ts; inbound ids are added by ingress, tenant-core
    // fair-priority.ts): a job that ends no longer counts
    const release = (job: Job | undefined) => {
      const tenantId = (job?.data as { tenantId?: string } | undefined)?.tenantId;
      if ((name === 'inbound' || name === 'reply' || name === 'send') && job?.id && tenantId) {
        releaseFairJob(w, tenantId, job.id).catch((err: Error) => logger.warn({ err: err.message }, 'fair backlog release failed'));
      }
    };
    w.on('completed', (job) => {
      metrics.jobsProcessed.inc({ queue: name });
      release(job);
    });
    w.on('failed', (job, err) => {
      const final = !job || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      metrics.jobsFailed.inc({ queue: name, final: String(final) });
      if (final) release(job);
      if (final) {
        logger.error({ queue: name, jobId: job?.id, tenantId: (job?.data as { tenantId?: string })?.tenantId, err: err.message }, 'job failed for good');
      }
    });
    // the reconcile drops inbound ids left behind too (through this worker's connection)
    if (name === 'inbound') maintenanceOpts.fairQueues?.push(w as unknown as Queue);
    w.on('error', (err) => logger.error({ queue: name, err: err.message }, 'worker error'));
    w.on('stalled', (jobId) => logger.warn({ queue: name, jobId }, 'job stalled; it will be processed again'));
    return w;
  });
  // maintenance (issue 5): token-expiry monitor and fairness-backlog reconcile, as BullMQ job
  // schedulers (one schedule however many workers upsert it)
  let maintenanceQueue: Queue | null = null;
  if (opts.maintenance) {
    const m = opts.maintenance;
    maintenanceQueue = new Queue(queueNames.maintenance, { connection, prefix: opts.prefix });
    await maintenanceQueue.upsertJobScheduler(maintenanceJobs.tokenExpiry, { every: m.tokenExpiryEveryMs ?? 3600_000 }, { name: maintenanceJobs.tokenExpiry });
    await maintenanceQueue.upsertJobScheduler(maintenanceJobs.backlogReconcile, { every: m.reconcileEveryMs ?? 60_000 }, { name: maintenanceJobs.backlogReconcile });
    const mw = new Worker(queueNames.maintenance, runMaintenance as Processor, { ...common, concurrency: 1 });
    mw.on('failed', (job, err) => logger.error({ queue: 'maintenance', job: job?.name, err: err.message }, 'maintenance job failed'));
    mw.on('error', (err) => logger.error({ queue: 'maintenance', err: err.message }, 'worker error'));
    workers.push(mw);
  }
  for (const w of workers) void w.run().catch((err: Error) => logger.error({ err: err.message }, 'worker stopped'));
  // promotions lost to a crashed worker: pump every tenant with parked jobs now and then
  const promoteTargets = new Map<string, PromoteTarget>(workers.filter((w) => w.name !== queueNames.maintenance).map((w) => [w.name, w]));
  // and count the worker processes sharing the queues: the caps are per worker's worth of slots
  // (BullMQ names its connections; a Redis that refuses CLIENT LIST leaves the count at 1)
  const countWorkers = async (): Promise<void> => {
    if (!inflight) return;
    const n = await queues.reply.getWorkersCount().catch(() => 1);
    inflight.setWorkerCount(n);
  };
  const sweeper = inflight
    ? setInterval(() => {
        void countWorkers();
        inflight.sweep(promoteTargets).catch((err: Error) => logger.warn({ err: err.message }, 'tenant in-flight sweep failed'));
      }, inflight.config.sweepMs)
    : null;
  sweeper?.unref();
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  await countWorkers();
  logger.info({ queues: names, prefix: opts.prefix, concurrency, tenantCaps: inflight?.config.caps ?? 'off' }, 'worker started');

  let closing: Promise<void> | null = null;
  return {
    workers,
    queues,
    metrics,
    contexts,
    delivery,
    runMaintenance: (name) => runMaintenance({ name } as Job),
    isReady: () => !closing && workers.every((w) => w.isRunning()),
    close() {
      closing ??= (async () => {
        if (sweeper) clearInterval(sweeper);
        await Promise.all(workers.map((w) => w.close()));
        await queues.close();
        await maintenanceQueue?.close();
        await delivery.close();
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
