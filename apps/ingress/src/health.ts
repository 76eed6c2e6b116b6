import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Sql } from '@alphadome/tenant-core';
import type { IngressMetrics } from './metrics.ts';

export interface HealthOptions {
  redis: Redis;
  sql: Sql;
  metrics: IngressMetrics;
  /** per dependency; a probe must answer well within the orchestrator's own timeout */
  checkTimeoutMs?: number;
}

/**
 * /healthz: the process is up and serving. /readyz: Redis answers PING and Postgres answers
 * `select 1`, each within a short timeout; 503 names what failed. /metrics: Prometheus text.
 */
export function healthRoutes(app: FastifyInstance, opts: HealthOptions): void {
  const timeoutMs = opts.checkTimeoutMs ?? 1_000;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [redis, postgres] = await Promise.all([
      check(() => opts.redis.ping(), timeoutMs),
      check(() => opts.sql`select 1`, timeoutMs),
    ]);
    const ok = redis === 'ok' && postgres === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks: { redis, postgres } });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(text);
  });
}

async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `failed: ${(err as Error).message}`.slice(0, 200);
  } finally {
    clearTimeout(timer);
  }
}
