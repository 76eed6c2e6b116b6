import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { announceTenantChanged, createLogger, isAppError, queueNames, redisOptionsFromUrl } from '@alphadome/tenant-core';
import { registerAuth } from './auth.ts';
import { registerBullBoard } from './bull-board.ts';
import { html } from './html.ts';
import { sendPage } from './layout.ts';
import { createMetrics } from './metrics.ts';
import { parseMultipart } from './multipart.ts';
import { apiRoutes } from './routes/api.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { faqRoutes } from './routes/faq.ts';
import { operatorRoutes } from './routes/operator.ts';
import { replyRoutes } from './routes/replies.ts';
import { settingsRoutes } from './routes/settings.ts';
import { usageRoutes } from './routes/usage.ts';
import { stylesheet } from './style.ts';
import type { Access, DashboardContext, DashboardDeps } from './types.ts';

export type { DashboardDeps } from './types.ts';

export interface RouteInfo {
  method: string;
  url: string;
  access: Access;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** every route as registered (collected by onRoute), for the access-control tests */
    dashboardRoutes: RouteInfo[];
  }
}

/** The dashboard: owner pages, operator pages, Bull Board, health and metrics. */
export async function buildDashboard(deps: DashboardDeps): Promise<FastifyInstance> {
  const logger = deps.logger === false ? false : (deps.logger ?? createLogger('dashboard'));
  const app = Fastify({
    loggerInstance: logger === false ? undefined : logger,
    logger: logger === false ? false : undefined,
    trustProxy: true,
    bodyLimit: 2 * 1024 * 1024,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  const routes: RouteInfo[] = [];
  app.decorate('dashboardRoutes', routes);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const access = ((r.config as { access?: Access } | undefined)?.access ?? 'operator') as Access;
    for (const m of methods) if (m !== 'HEAD') routes.push({ method: m, url: r.url, access });
  });

  const metrics = createMetrics();
  let redis: Redis | undefined;
  const queues = new Map<string, Queue>();
  const connection = { ...redisOptionsFromUrl(deps.redisUrl), maxRetriesPerRequest: null };
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: deps.queuePrefix });
      q.on('error', (err) => app.log.warn({ err: err.message, queue: name }, 'queue connection error'));
      queues.set(name, q);
    }
    return q;
  };
  const ctx: DashboardContext = {
    deps,
    sql: deps.sql,
    metrics,
    redis() {
      if (!redis) {
        redis = new Redis(deps.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: false });
        redis.on('error', () => {}); // announcements fall back to the workers' cache TTL
      }
      return redis;
    },
    sendQueue: () => queue(queueNames.send),
    async announce(tenantId) {
      const ok = await announceTenantChanged(ctx.redis(), deps.queuePrefix, tenantId);
      if (!ok) app.log.warn({ tenantId }, 'could not announce the tenant change; workers pick it up when their cache expires');
    },
  };

  await app.register(cookie);
  await app.register(formbody);
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 2 * 1024 * 1024 }, (req, body, done) => {
    try {
      done(null, parseMultipart(body as Buffer, String(req.headers['content-type'] ?? '')));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number };
    const status = isAppError(err) ? err.httpStatus : e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 ? 'Something went wrong on our side. Please try again.' : e.message;
    return sendPage(req, reply, { title: 'Error', body: html`<h1>Error</h1><p>${message}</p>` }, status);
  });
  app.setNotFoundHandler((req, reply) =>
    sendPage(req, reply, { title: 'Not found', body: html`<h1>Not found</h1><p>There is nothing here. <a href="/">Start again</a>.</p>` }, 404),
  );

  const pub = { config: { access: 'public' as const } };
  app.get('/healthz', pub, async () => ({ ok: true }));
  app.get('/readyz', pub, async (_req, reply) => {
    const checks = { postgres: false, redis: false };
    await Promise.all([
      deps.sql`select 1`.then(() => (checks.postgres = true)).catch(() => {}),
      Promise.race([ctx.redis().ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 1500))])
        .then(() => (checks.redis = true))
        .catch(() => {}),
    ]);
    return reply.code(checks.postgres && checks.redis ? 200 : 503).send({ ok: checks.postgres && checks.redis, ...checks });
  });
  app.get('/metrics', pub, async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/style.css', pub, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=86400').send(stylesheet),
  );

  registerAuth(app, ctx);
  faqRoutes(app, ctx);
  replyRoutes(app, ctx);
  settingsRoutes(app, ctx);
  conversationRoutes(app, ctx);
  usageRoutes(app, ctx);
  credentialRoutes(app, ctx);
  catalogRoutes(app, ctx);
  apiRoutes(app, ctx);
  operatorRoutes(app, ctx);
  await registerBullBoard(app, [queueNames.inbound, queueNames.reply, queueNames.send, queueNames.status].map(queue));

  app.addHook('onClose', async () => {
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
    redis?.disconnect();
  });
  return app;
}
