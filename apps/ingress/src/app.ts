import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger, Sql } from '@alphadome/tenant-core';
import type { Enqueuer } from './enqueue.ts';
import { healthRoutes } from './health.ts';
import type { IngressMetrics } from './metrics.ts';
import type { TenantRouter } from './tenant-routing.ts';
import { verifyWebhookRoutes } from './verify-webhook.ts';
import { MAX_WEBHOOK_BYTES, webhookRoutes } from './webhook-routes.ts';

export interface IngressDeps {
  /** the platform Meta app's secret (META_APP_SECRET) */
  metaAppSecret: string;
  /** META_VERIFY_TOKEN, for Meta's GET handshake */
  verifyToken: string;
  logger: Logger;
  sql: Sql;
  /** the producer connection (readiness probe) */
  redis: Redis;
  router: TenantRouter;
  enqueuer: Enqueuer;
  metrics: IngressMetrics;
  /** webhook bodies handled at once, in bytes, before new POSTs are shed with 503 (default 24 MiB) */
  maxInflightBodyBytes?: number;
}

/**
 * The ingress HTTP app, routes registered, not listening. The dependencies are opened and
 * closed by the caller (see createIngressDeps): `app.close()` drains in-flight requests, then
 * the caller closes queues, Redis and Postgres.
 */
export function buildIngress(deps: IngressDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // one log line per request is too hot at Meta's volumes; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_WEBHOOK_BYTES,
    // Meta keeps connections alive; close the idle ones on shutdown, let busy ones finish
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // No child logger per request (pino's child + redaction setup cost ~8 µs a request, a tenth
  // of the webhook path); log lines carry tenant id and wamid instead of a request id.
  app.setChildLoggerFactory((logger) => logger);

  // A keep-alive connection whose request was in flight when close() began turns idle only
  // after its response, and Node's server.close() would wait on it for the client's keep-alive
  // timeout. Sweep idle connections until the server has closed (nothing on the hot path).
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    if (app.server.listening) sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sweeper);
    done();
  });

  void app.register(async (scope) => {
    webhookRoutes(scope, {
      platformAppSecret: deps.metaAppSecret,
      router: deps.router,
      enqueuer: deps.enqueuer,
      metrics: deps.metrics,
      logger: deps.logger,
      ...(deps.maxInflightBodyBytes !== undefined ? { maxInflightBodyBytes: deps.maxInflightBodyBytes } : {}),
    });
  });
  void app.register(async (scope) => {
    verifyWebhookRoutes(scope, { verifyToken: deps.verifyToken, router: deps.router, metrics: deps.metrics, logger: deps.logger });
    healthRoutes(scope, { redis: deps.redis, sql: deps.sql, metrics: deps.metrics });
  });

  return app;
}
