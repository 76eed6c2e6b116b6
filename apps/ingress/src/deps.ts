import {
  createLogger,
  createSql,
  Keyring,
  loadConfig,
  onTenantChanged,
  type Logger,
} from '@alphadome/tenant-core';
import type { IngressDeps } from './app.ts';
import type { Enqueuer } from './enqueue.ts';
import { ForwarderProcess } from './forwarder-supervisor.ts';
import { handoffStreamKey, StreamEnqueuer } from './handoff.ts';
import { inboundPaceFromEnv } from './pace.ts';
import { inflightBodyBudgetFromEnv } from './webhook-routes.ts';
import { createIngressMetrics } from './metrics.ts';
import { createProducerRedis } from './redis.ts';
import { TenantRouter } from './tenant-routing.ts';

export const requiredEnv = ['DATABASE_URL', 'META_APP_SECRET', 'META_VERIFY_TOKEN'] as const;

export function loadIngressConfig(env: Record<string, string | undefined> = process.env) {
  return { ...loadConfig(env, requiredEnv), pace: inboundPaceFromEnv(env), maxInflightBodyBytes: inflightBodyBudgetFromEnv(env) };
}
export type IngressConfig = ReturnType<typeof loadIngressConfig>;

export interface OpenedIngressDeps extends IngressDeps {
  config: IngressConfig;
  /** the forwarder's process; null when the hand-off is 'direct' */
  forwarder: ForwarderProcess | null;
  /** Closes everything opened here; call after app.close() (which drains requests). */
  close(): Promise<void>;
}

export interface IngressDepsOptions {
  logger?: Logger;
  routingTtlMs?: number;
  negativeRoutingTtlMs?: number;
  /** TenantRouter's lookupTimeoutMs (default 2 s) */
  routingLookupTimeoutMs?: number;
  enqueueTimeoutMs?: number;
  /**
   * 'direct' (default): one BullMQ addBulk per queue per event-loop turn on the request path.
   * 'stream': a webhook's jobs are appended to the hand-off stream (one XADD per
   * event-loop turn) and a forwarder (a child process at lower CPU priority) moves them into BullMQ.
   * Both answer 200 only once Redis holds the jobs; see README.md for the trade-off.
   */
  handoff?: 'stream' | 'direct';
  /** start the forwarder (default true; tests stop it to look at the stream) */
  startForwarder?: boolean;
}

/** Opens Postgres, Redis, the queues, the routing cache and its invalidation feed. */
export async function createIngressDeps(config: IngressConfig, opts: IngressDepsOptions = {}): Promise<OpenedIngressDeps> {
  const logger = opts.logger ?? createLogger('ingress', config.LOG_LEVEL);
  const keyring = config.ENCRYPTION_KEYS !== undefined ? Keyring.fromSpec(config.ENCRYPTION_KEYS) : null;
  if (keyring === null) {
    logger.warn('ENCRYPTION_KEYS is not set: POST /webhooks/whatsapp/:tenantSlug (tenants with their own Meta app) will answer 503');
  }
  const sql = createSql({
    url: config.DATABASE_URL,
    prepare: config.DATABASE_PREPARE === 'true',
    max: Math.min(config.DATABASE_POOL_MAX, 5),
    name: 'alphadome-ingress',
  });
  const redis = createProducerRedis(config.REDIS_URL);
  const metrics = createIngressMetrics();
  const router = new TenantRouter({
    sql,
    keyring,
    onStale: (kind, err) => {
      metrics.routingStale.labels(kind).inc();
      logger.warn({ kind, err: { message: (err as Error).message } }, 'tenant lookup failed; answering from the expired cache entry');
    },
    ...(opts.routingTtlMs !== undefined ? { ttlMs: opts.routingTtlMs } : {}),
    ...(opts.negativeRoutingTtlMs !== undefined ? { negativeTtlMs: opts.negativeRoutingTtlMs } : {}),
    ...(opts.routingLookupTimeoutMs !== undefined ? { lookupTimeoutMs: opts.routingLookupTimeoutMs } : {}),
  });
  // three batches unconfirmed at once: Redis runs one batch's scripts while this process parses
  // the next requests (bench, 50 connections, wrk: 0.249/0.252 of bare Fastify with one, 0.278/0.275 with three)
  const batcherOpts = { metrics, maxInFlight: 3, ...(opts.enqueueTimeoutMs !== undefined ? { timeoutMs: opts.enqueueTimeoutMs } : {}) };

  let forwarder: ForwarderProcess | null = null;
  let closeQueues: () => Promise<unknown> = async () => {};
  let enqueuer: Enqueuer;
  if ((opts.handoff ?? 'direct') === 'stream') {
    const key = handoffStreamKey(config.QUEUE_PREFIX);
    enqueuer = new StreamEnqueuer(redis, key, batcherOpts);
    forwarder = new ForwarderProcess({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, key, logLevel: config.LOG_LEVEL, pace: config.pace, logger, metrics });
    metrics.setBacklogSource(() => redis.xlen(key));
    if (opts.startForwarder ?? true) forwarder.start();
  } else {
    // BullMQ is loaded only here: in 'stream' mode it lives in the forwarder process alone
    const { createIngressQueues, DirectEnqueuer } = await import('./queues.ts');
    const queues = createIngressQueues(redis, config.QUEUE_PREFIX, config.pace);
    enqueuer = new DirectEnqueuer(queues, batcherOpts);
    closeQueues = () => Promise.allSettled([queues.inbound.close(), queues.status.close()]);
  }

  // Tenant changes (dashboard, CLI) drop cached routes at once; the TTL covers missed messages.
  // Not awaited: a Redis that is down at start must not keep ingress from starting.
  const unsubscribe = onTenantChanged(config.REDIS_URL, config.QUEUE_PREFIX, (tenantId) => {
    router.invalidate(tenantId);
    logger.debug({ tenantId }, 'tenant changed: routing cache entries dropped');
  }).catch((err: unknown) => {
    logger.warn({ err: { message: (err as Error).message } }, 'tenant-changed subscription failed; routing cache relies on its TTL');
    return async () => {};
  });

  return {
    config,
    metaAppSecret: config.META_APP_SECRET,
    verifyToken: config.META_VERIFY_TOKEN,
    logger,
    sql,
    redis,
    router,
    enqueuer,
    metrics,
    maxInflightBodyBytes: config.maxInflightBodyBytes,
    forwarder,
    async close() {
      await enqueuer.close();
      // forward this process's last webhooks before leaving (what does not fit stays in the stream)
      await forwarder?.stop({ drainMs: 5_000 });
      await closeQueues();
      // the subscription may still be connecting to a Redis that is down: do not wait for it
      await Promise.race([unsubscribe.then((u) => u()), new Promise((r) => setTimeout(r, 1_000).unref())]);
      await redis.quit().catch(() => redis.disconnect());
      await sql.end({ timeout: 5 });
    },
  };
}
