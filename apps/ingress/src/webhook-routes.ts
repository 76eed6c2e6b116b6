import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ConfigError, isAppError, type Logger } from '@alphadome/tenant-core';
import { parseWebhookLean, verifySignature } from '@alphadome/whatsapp';
import type { Enqueuer, IngressJob } from './enqueue.ts';
import { jobForItem } from './item-jobs.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.ts';
import type { IngressMetrics, RequestOutcome } from './metrics.ts';
import type { PhoneRoute, TenantRouter } from './tenant-routing.ts';

/** Meta's maximum webhook payload. */
export const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;
export const TENANT_SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const EMPTY = Buffer.alloc(0);

/**
 * Webhook bodies handled at once (declared Content-Length; a body without one counts as the
 * maximum) before new POSTs are shed with 503 and Retry-After: a parsed body and its jobs take
 * a few times its size in memory until Redis has them, so many maximum-size webhooks at once
 * would otherwise exhaust the capped heap (the production start caps old space at 128 MB:
 * measured, 48 concurrent 3 MiB webhooks killed it, 12 did not). One request always proceeds.
 */
export const DEFAULT_MAX_INFLIGHT_BODY_BYTES = 24 * 1024 * 1024;

/** INGRESS_MAX_INFLIGHT_BYTES (bytes, at least one maximum-size webhook), default above. */
export function inflightBodyBudgetFromEnv(env: Record<string, string | undefined>): number {
  const raw = env.INGRESS_MAX_INFLIGHT_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_INFLIGHT_BODY_BYTES;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < MAX_WEBHOOK_BYTES) {
    throw new ConfigError(`invalid environment: INGRESS_MAX_INFLIGHT_BYTES: must be a whole number of bytes ≥ ${MAX_WEBHOOK_BYTES} (one maximum-size webhook), got "${raw}"`);
  }
  return v;
}

export interface WebhookRouteOptions {
  /** the platform Meta app's secret (POST /webhooks/whatsapp) */
  platformAppSecret: string;
  router: TenantRouter;
  enqueuer: Enqueuer;
  metrics: IngressMetrics;
  logger: Logger;
  /** see DEFAULT_MAX_INFLIGHT_BODY_BYTES */
  maxInflightBodyBytes?: number;
}

/**
 * POST /webhooks/whatsapp and POST /webhooks/whatsapp/:tenantSlug.
 *
 * Order matters: the signature is checked over the raw bytes exactly as received, before any
 * parsing (Meta signs its own escaped serialisation, so nothing may be re-serialised), then the
 * body is parsed, every item routed to its tenant by phone number id, and all jobs of the POST
 * handed to the queue; 200 only once Redis has them.
 *
 * Registered as an encapsulated plugin: the raw-body content-type parser and the error
 * mapping apply to these routes only.
 */
export function webhookRoutes(app: FastifyInstance, opts: WebhookRouteOptions): void {
  const { platformAppSecret, router, enqueuer, metrics, logger } = opts;

  // Keep the body as the exact bytes received, whatever the content type says: the signature
  // is over those bytes, and JSON.parse runs only after it verified.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BYTES }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return fail(reply, 'payload_too_large', 413, 'payload_too_large', `body over ${MAX_WEBHOOK_BYTES} bytes`);
    }
    if (isAppError(err)) {
      if (err.httpStatus >= 500) request.log.error({ err }, 'webhook failed');
      return fail(reply, outcomeFor(err.httpStatus), err.httpStatus, err.code, err.message);
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return fail(reply, 'bad_request', err.statusCode, 'bad_request', err.message);
    }
    request.log.error({ err }, 'webhook failed');
    return fail(reply, 'error', 500, 'internal', 'internal error');
  });

  function fail(reply: FastifyReply, outcome: RequestOutcome, status: number, code: string, message: string): FastifyReply {
    metrics.outcome[outcome].inc();
    return reply.code(status).send({ error: code, message });
  }

  // Memory budget (DEFAULT_MAX_INFLIGHT_BODY_BYTES): checked before the body is read, released
  // when the response is done or the connection closes.
  const budget = opts.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES;
  let inflightBytes = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'POST') return;
    const declared = Number(request.headers['content-length']);
    const cost = Number.isInteger(declared) && declared >= 0 ? Math.min(declared, MAX_WEBHOOK_BYTES) : MAX_WEBHOOK_BYTES;
    if (inflightBytes > 0 && inflightBytes + cost > budget) {
      metrics.shed.inc();
      reply.header('retry-after', '1');
      return fail(reply, 'unavailable', 503, 'unavailable', 'ingress is busy, retry later');
    }
    inflightBytes += cost;
    reply.raw.once('close', () => {
      inflightBytes -= cost;
    });
  });

  function unauthorized(reply: FastifyReply): FastifyReply {
    metrics.signatureFailures.inc();
    return fail(reply, 'unauthorized', 401, 'unauthorized', 'missing or invalid X-Hub-Signature-256');
  }

  app.post('/webhooks/whatsapp', { bodyLimit: MAX_WEBHOOK_BYTES }, async (request, reply) => {
    const raw = rawBody(request);
    if (!verifySignature(raw, request.headers['x-hub-signature-256'], platformAppSecret)) return unauthorized(reply);
    return accept(reply, raw, null);
  });

  app.post<{ Params: { tenantSlug: string } }>(
    '/webhooks/whatsapp/:tenantSlug',
    { bodyLimit: MAX_WEBHOOK_BYTES },
    async (request, reply) => {
      const slug = request.params.tenantSlug;
      if (!TENANT_SLUG_RE.test(slug)) return fail(reply, 'not_found', 404, 'not_found', 'no such tenant webhook');
      if (!router.canReadSecrets) {
        // 503, not 500 and not 200: Meta keeps retrying until the operator sets the keyring
        logger.error(
          { tenantSlug: slug },
          'config error: ENCRYPTION_KEYS is not set, so per-tenant webhooks cannot read the tenant Meta app secret; answering 503 (Meta will retry)',
        );
        return fail(reply, 'unavailable', 503, 'unavailable', 'tenant webhooks are not configured on this server');
      }
      let tenantId: string;
      let secret: string | null;
      try {
        const route = await router.bySlug(slug);
        if (route === null || !route.ownMetaApp) return fail(reply, 'not_found', 404, 'not_found', 'no such tenant webhook');
        tenantId = route.tenantId;
        secret = await router.metaAppSecret(tenantId);
      } catch (err) {
        logger.error({ err: describe(err), tenantSlug: slug }, 'tenant webhook: routing or secret lookup failed; answering 503');
        return fail(reply, 'unavailable', 503, 'unavailable', 'tenant lookup failed, retry later');
      }
      if (secret === null) {
        logger.error(
          { tenantId, tenantSlug: slug },
          'tenant brings its own Meta app but has no meta_app_secret stored; answering 503 until it is set (alphadome tenant set-credentials --app-secret-file)',
        );
        return fail(reply, 'unavailable', 503, 'unavailable', 'tenant webhook secret not configured');
      }
      const raw = rawBody(request);
      if (!verifySignature(raw, request.headers['x-hub-signature-256'], secret)) return unauthorized(reply);
      return accept(reply, raw, tenantId);
    },
  );

  /**
   * The signature verified: parse, route, enqueue. `onlyTenantId` is set on a tenant's own-app
   * route: items for another tenant's phone number are refused there (a tenant's secret must
   * never let it write into another tenant's queue).
   */
  async function accept(
    reply: FastifyReply,
    raw: Buffer,
    onlyTenantId: string | null,
  ): Promise<FastifyReply> {
    if (nestsDeeperThan(raw)) {
      return fail(reply, 'bad_request', 400, 'bad_request', `body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(reply, 'bad_request', 400, 'bad_request', 'body is not JSON');
    }
    const parsed = parseWebhookLean(json);
    if (!parsed.ok) return fail(reply, 'bad_request', 400, 'bad_request', parsed.error);
    if (parsed.invalidItems > 0) {
      // retrying would not fix them: count, log where (never values), go on with the rest
      metrics.invalidItems.inc(parsed.invalidItems);
      logger.warn({ invalidItems: parsed.invalidItems, problems: parsed.problems }, 'webhook items without the fields we rely on were skipped');
    }
    const items = parsed.items;
    const receivedAt = Date.now();

    // Tenants of the phone numbers in this POST: from the cache, else one query per number.
    const routes = new Map<string, PhoneRoute | null>();
    let misses: string[] | undefined;
    for (const item of items) {
      const id = item.phoneNumberId;
      if (routes.has(id)) continue;
      const cached = router.peekPhoneNumber(id);
      if (cached !== undefined) routes.set(id, cached);
      else {
        routes.set(id, null);
        (misses ??= []).push(id);
      }
    }
    if (misses !== undefined) {
      try {
        const found = await Promise.all(misses.map((id) => router.byPhoneNumber(id)));
        misses.forEach((id, i) => routes.set(id, found[i] ?? null));
      } catch (err) {
        // Meta retries a 503; a 200 here would lose the messages
        logger.error({ err: describe(err) }, 'tenant routing failed; answering 503');
        return fail(reply, 'unavailable', 503, 'unavailable', 'tenant routing unavailable, retry later');
      }
    }

    const jobs: IngressJob[] = [];
    let unknown: Set<string> | undefined;
    let refused: Set<string> | undefined;
    let unknownItems = 0;
    let refusedItems = 0;
    for (const item of items) {
      const route = routes.get(item.phoneNumberId) ?? null;
      if (route === null) {
        unknownItems++;
        (unknown ??= new Set()).add(item.phoneNumberId);
      } else if (onlyTenantId !== null && route.tenantId !== onlyTenantId) {
        refusedItems++;
        (refused ??= new Set()).add(item.phoneNumberId);
      } else {
        jobs.push(jobForItem(item, route.tenantId, receivedAt));
      }
    }
    if (unknown !== undefined) {
      metrics.unknownPhoneNumber.inc(unknownItems);
      logger.info({ phoneNumberIds: [...unknown], items: unknownItems }, 'webhook items for a phone number id no tenant has; not enqueued');
    }
    if (refused !== undefined) {
      metrics.refusedItems.inc(refusedItems);
      logger.warn(
        { tenantId: onlyTenantId, phoneNumberIds: [...refused], items: refusedItems },
        "tenant webhook carried items for another tenant's phone number; refused, not enqueued",
      );
    }

    if (jobs.length > 0) {
      const started = performance.now();
      try {
        await enqueuer.enqueue(jobs);
      } catch (err) {
        if (isAppError(err) && err.code === 'bad_request') return fail(reply, 'bad_request', 400, 'bad_request', err.message);
        logger.error({ err: describe(err), items: jobs.length }, 'enqueue failed; answering 503 (Meta will retry)');
        return fail(reply, 'unavailable', 503, 'unavailable', 'queue unavailable, retry later');
      }
      metrics.enqueueSeconds.observe((performance.now() - started) / 1000);
      let messages = 0;
      for (const job of jobs) if (job.name === 'message') messages++;
      if (messages > 0) metrics.enqueued.message.inc(messages);
      if (jobs.length - messages > 0) metrics.enqueued.status.inc(jobs.length - messages);
      if (logger.isLevelEnabled('debug')) {
        for (const job of jobs) {
          logger.debug({ tenantId: job.data.tenantId, wamid: job.data.wamid, kind: job.name, jobId: job.jobId }, 'enqueued');
        }
      }
    }
    metrics.outcome.accepted.inc();
    return reply.code(200).type('text/plain').send('EVENT_RECEIVED');
  }
}

function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : EMPTY;
}

function outcomeFor(status: number): RequestOutcome {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 503) return 'unavailable';
  if (status < 500) return 'bad_request';
  return 'error';
}

/** An error for a log line: message and code, no stack noise, no values. */
function describe(err: unknown): { message: string; code?: string } {
  if (err instanceof AppError) return { message: err.message, code: err.code };
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
  }
  return { message: String(err) };
}
