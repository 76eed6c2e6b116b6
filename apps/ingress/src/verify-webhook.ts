import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '@alphadome/tenant-core';
import type { IngressMetrics } from './metrics.ts';
import type { TenantRouter } from './tenant-routing.ts';
import { TENANT_SLUG_RE } from './webhook-routes.ts';

export interface VerifyWebhookOptions {
  verifyToken: string;
  router: TenantRouter;
  metrics: IngressMetrics;
  logger: Logger;
}

interface HandshakeQuery {
  'hub.mode'?: string;
  'hub.verify_token'?: string;
  'hub.challenge'?: string;
}

/** Meta sends a number; anything printable up to this length is echoed, as plain text. */
const CHALLENGE_RE = /^[\x21-\x7e]{1,256}$/;

/**
 * Meta's "Verify webhook" handshake: GET with hub.mode=subscribe, hub.verify_token and
 * hub.challenge; echo the challenge as text/plain when the token matches, else 403.
 *
 * The same handshake answers on /webhooks/whatsapp/:tenantSlug, because Meta calls the GET on
 * whatever callback URL a tenant registers for its own Meta app; the verify token there is the
 * platform's META_VERIFY_TOKEN (the operator hands it to the tenant with the URL).
 */
export function verifyWebhookRoutes(app: FastifyInstance, opts: VerifyWebhookOptions): void {
  const { router, metrics, logger } = opts;
  const expected = sha256(opts.verifyToken);

  function answer(query: HandshakeQuery, reply: FastifyReply): FastifyReply {
    const mode = query['hub.mode'];
    const token = query['hub.verify_token'];
    const challenge = query['hub.challenge'];
    if (
      mode === 'subscribe' &&
      typeof token === 'string' &&
      typeof challenge === 'string' &&
      CHALLENGE_RE.test(challenge) &&
      timingSafeEqual(sha256(token), expected)
    ) {
      metrics.outcome.handshake_ok.inc();
      return reply.code(200).type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(challenge);
    }
    metrics.outcome.handshake_refused.inc();
    return reply.code(403).type('text/plain; charset=utf-8').send('forbidden');
  }

  app.get<{ Querystring: HandshakeQuery }>('/webhooks/whatsapp', async (request, reply) => answer(request.query, reply));

  app.get<{ Querystring: HandshakeQuery; Params: { tenantSlug: string } }>(
    '/webhooks/whatsapp/:tenantSlug',
    async (request, reply) => {
      const slug = request.params.tenantSlug;
      if (!TENANT_SLUG_RE.test(slug)) return reply.code(404).send({ error: 'not_found', message: 'no such tenant webhook' });
      try {
        const route = await router.bySlug(slug);
        if (route === null || !route.ownMetaApp) {
          return reply.code(404).send({ error: 'not_found', message: 'no such tenant webhook' });
        }
      } catch (err) {
        logger.error({ err: { message: (err as Error).message }, tenantSlug: slug }, 'handshake: tenant lookup failed');
        return reply.code(503).send({ error: 'unavailable', message: 'tenant lookup failed, retry later' });
      }
      return answer(request.query, reply);
    },
  );
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
