import { createServer } from 'node:http';
import { z } from 'zod';
import { createLogger, createSql, Keyring, loadConfigOrExit } from '@alphadome/tenant-core';
import { WorkerMetrics } from './metrics.ts';
import { DEFAULT_TX_DEADLINE_MS, startWorker } from './worker.ts';
import { alertsConfigFromEnv } from './alerts/alerter.ts';
import { deliveryConfigFromEnv } from './delivery/config.ts';

/**
 * `npm run start:worker`: the worker configured by the environment only. Several may run at
 * once on different hosts. SIGTERM/SIGINT: stop taking jobs, let active ones finish (BullMQ's
 * worker.close waits for them), close Redis and Postgres, exit.
 */
const config = loadConfigOrExit(['DATABASE_URL', 'ENCRYPTION_KEYS']);

// Tuning knobs of the worker only (tests shorten them to exercise crash recovery quickly).
const tuning = z
  .object({
    WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).optional(),
    WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(200).optional(),
    // times a job may be found stalled (its worker died or missed its lock renewals) before it
    // is failed; every stage is safe to run again, so a job killed twice is retried, not lost
    // (unset: startWorker's DEFAULT_MAX_STALLED_COUNT)
    WORKER_MAX_STALLED_COUNT: z.coerce.number().int().min(0).optional(),
    // longest a database transaction of the message path may take before it is given up
    // (a query on a connection the server cut can otherwise stay unsettled forever); 0 = none
    DATABASE_TX_DEADLINE_MS: z.coerce.number().int().min(0).default(DEFAULT_TX_DEADLINE_MS),
    // most pool connections one tenant's transactions may hold at once (tenant-gate.ts); default
    // 60 % of DATABASE_POOL_MAX, so a tenant's burst always leaves connections to the others
    DATABASE_TENANT_SHARE: z.coerce.number().int().min(1).optional(),
    WORKER_RETRY_BASE_MS: z.coerce.number().int().min(1).optional(),
    WORKER_REPLY_ATTEMPTS: z.coerce.number().int().min(1).max(20).optional(),
    WORKER_SEND_ATTEMPTS: z.coerce.number().int().min(1).max(50).optional(),
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).optional(),
    // per-request timeout of Graph API calls (a send that hangs holds a job slot this long)
    GRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    // per-tenant in-flight cap per queue, across workers (delivery/tenant-inflight.ts); 0 = none.
    // Defaults from WORKER_CONCURRENCY: inbound 8, send 16, reply 3/4 of the slots (never all).
    WORKER_TENANT_INFLIGHT_INBOUND: z.coerce.number().int().min(0).optional(),
    WORKER_TENANT_INFLIGHT_REPLY: z.coerce.number().int().min(0).optional(),
    WORKER_TENANT_INFLIGHT_SEND: z.coerce.number().int().min(0).optional(),
    // the caps hold while another tenant has started a job of the queue within this long (ms);
    // a tenant alone keeps every slot. 0 = the caps always hold
    WORKER_TENANT_INFLIGHT_OTHERS_ACTIVE_MS: z.coerce.number().int().min(0).optional(),
  })
  .safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')));
if (!tuning.success) {
  process.stderr.write(`alphadome: invalid environment: ${tuning.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
  process.exit(1);
}
const t = tuning.data;

// delivery and alerts (issue 5): SEND_* knobs, SMTP_URL, ALERT_EMAIL_FROM, OPERATOR_EMAILS,
// OPERATOR_PHONES; META_APP_ID (+ META_APP_SECRET) lets the token monitor ask Meta's debug_token
let deliveryEnv: ReturnType<typeof deliveryConfigFromEnv>;
let alertsEnv: ReturnType<typeof alertsConfigFromEnv>;
try {
  deliveryEnv = deliveryConfigFromEnv(process.env);
  alertsEnv = alertsConfigFromEnv(process.env);
} catch (err) {
  process.stderr.write(`alphadome: invalid environment: ${(err as Error).message}\n`);
  process.exit(1);
}
const metaAppId = process.env.META_APP_ID?.trim();

const logger = createLogger('worker', config.LOG_LEVEL);
// The Postgres driver can leave a promise rejected with no handler when the server cuts a
// connection (the query in flight has already failed and its job will retry): log it instead of
// letting Node end the process. Thrown exceptions still end it.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection; still running'));
const sql = createSql({
  url: config.DATABASE_URL,
  prepare: config.DATABASE_PREPARE === 'true',
  max: config.DATABASE_POOL_MAX,
  name: 'alphadome-worker',
  txDeadlineMs: t.DATABASE_TX_DEADLINE_MS,
  tenantShare: Math.min(config.DATABASE_POOL_MAX, t.DATABASE_TENANT_SHARE ?? Math.max(1, Math.ceil(config.DATABASE_POOL_MAX * 0.6))),
});
const metrics = new WorkerMetrics({ defaultMetrics: true });

const handle = await startWorker({
  sql,
  redisUrl: config.REDIS_URL,
  prefix: config.QUEUE_PREFIX,
  keyring: Keyring.fromSpec(config.ENCRYPTION_KEYS),
  graphApiBaseUrl: config.GRAPH_API_BASE_URL,
  graphApiVersion: config.GRAPH_API_VERSION,
  graphTimeoutMs: t.GRAPH_TIMEOUT_MS,
  openaiBaseUrl: config.OPENAI_BASE_URL,
  openaiApiKey: config.OPENAI_API_KEY,
  openaiModel: config.OPENAI_MODEL,
  publicDashboardUrl: config.PUBLIC_DASHBOARD_URL,
  concurrency: config.WORKER_CONCURRENCY,
  delivery: deliveryEnv,
  alerts: alertsEnv,
  metaAppToken: metaAppId && config.META_APP_SECRET ? `${metaAppId}|${config.META_APP_SECRET}` : undefined,
  maintenance: {},
  tenantInflight: {
    caps: {
      ...(t.WORKER_TENANT_INFLIGHT_INBOUND !== undefined ? { inbound: t.WORKER_TENANT_INFLIGHT_INBOUND } : {}),
      ...(t.WORKER_TENANT_INFLIGHT_REPLY !== undefined ? { reply: t.WORKER_TENANT_INFLIGHT_REPLY } : {}),
      ...(t.WORKER_TENANT_INFLIGHT_SEND !== undefined ? { send: t.WORKER_TENANT_INFLIGHT_SEND } : {}),
    },
    ...(t.WORKER_TENANT_INFLIGHT_OTHERS_ACTIVE_MS !== undefined ? { othersActiveMs: t.WORKER_TENANT_INFLIGHT_OTHERS_ACTIVE_MS } : {}),
  },
  ...(t.WORKER_STALLED_INTERVAL_MS !== undefined ? { stalledIntervalMs: t.WORKER_STALLED_INTERVAL_MS } : {}),
  ...(t.WORKER_LOCK_DURATION_MS !== undefined ? { lockDurationMs: t.WORKER_LOCK_DURATION_MS } : {}),
  ...(t.WORKER_MAX_STALLED_COUNT !== undefined ? { maxStalledCount: t.WORKER_MAX_STALLED_COUNT } : {}),
  ...(t.TENANT_CACHE_TTL_MS !== undefined ? { contextTtlMs: t.TENANT_CACHE_TTL_MS } : {}),
  retry: {
    ...(t.WORKER_RETRY_BASE_MS !== undefined ? { retryBaseMs: t.WORKER_RETRY_BASE_MS } : {}),
    ...(t.WORKER_REPLY_ATTEMPTS !== undefined ? { replyAttempts: t.WORKER_REPLY_ATTEMPTS } : {}),
    ...(t.WORKER_SEND_ATTEMPTS !== undefined ? { sendAttempts: t.WORKER_SEND_ATTEMPTS } : {}),
  },
  logger,
  metrics,
});

// health and metrics: a plain http server is all three routes need
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  } else if (path === '/readyz') {
    void (async () => {
      let db = false;
      try {
        await sql`select 1`;
        db = true;
      } catch {
        /* reported below */
      }
      const ready = db && handle.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready, db, workers: handle.isReady() }));
    })();
  } else if (path === '/metrics') {
    void metrics.registry.metrics().then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body));
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }
});
server.listen(config.WORKER_PORT, config.HOST, () => {
  const addr = server.address();
  logger.info({ port: typeof addr === 'object' && addr ? addr.port : config.WORKER_PORT }, 'worker health server listening');
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: finishing active jobs');
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, 30_000);
  force.unref();
  try {
    server.close();
    await handle.close();
    await sql.end({ timeout: 5 });
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'error during shutdown');
    process.exitCode = 1;
  }
  process.exit();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
