import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, ZodError } from 'zod';
import {
  addFaq,
  countFaqs,
  deleteFaq,
  describeZodError,
  errorCodes,
  getControlSettings,
  getFaq,
  isAppError,
  listConversationMessages,
  listUsage,
  searchCatalog,
  updateFaq,
  upsertControlSettings,
  type ErrorCode,
} from '@alphadome/tenant-core';
import { createProduct, deleteProduct, getProduct, listProducts, productInputSchema, productPatchSchema, productsByIds, updateProduct } from '../data/catalog.ts';
import { getConversationDetail, listConversations, searchFaqs } from '../data/owner.ts';
import type { DashboardContext } from '../types.ts';
import { change, inTenant, NotFound } from './helpers.ts';

/**
 * The owner's JSON API under /api: the same session cookie as the pages, CSRF token in the
 * `x-csrf-token` header for state-changing calls (checked by the auth hook), zod schemas for
 * params, query and bodies, and errors as `{ error: { code, message } }` with the AppError
 * code mapped to its HTTP status in one place (apiErrorHandler).
 */

const owner = { config: { access: 'owner' as const } };

export interface ApiErrorBody {
  error: { code: ErrorCode | 'csrf'; message: string };
}

export function apiError(reply: FastifyReply, status: number, code: ApiErrorBody['error']['code'], message: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ error: { code, message } } satisfies ApiErrorBody);
}

const codeForStatus = (status: number): ErrorCode =>
  (Object.entries(errorCodes).find(([, s]) => s === status)?.[0] as ErrorCode | undefined) ?? (status >= 500 ? 'internal' : 'bad_request');

/** The one mapping of errors to API responses. */
export function apiErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof ZodError) return apiError(reply, 400, 'bad_request', describeZodError(err));
  if (err instanceof NotFound) return apiError(reply, 404, 'not_found', 'not found');
  if (isAppError(err)) {
    if (err.httpStatus >= 500) req.log.error({ err }, 'api request failed');
    return apiError(reply, err.httpStatus, err.code, err.httpStatus >= 500 ? 'something went wrong on our side' : err.message);
  }
  const e = err as FastifyError;
  const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
  if (status >= 500) req.log.error({ err }, 'api request failed');
  return apiError(reply, status, codeForStatus(status), status >= 500 ? 'something went wrong on our side' : e.message);
}

const idParams = z.object({ id: z.uuid('must be an id (uuid)') });
const pageQuery = z.object({
  q: z.string().trim().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  page: z.coerce.number().int().min(1).max(10_000).optional(),
});

const faqBody = z.object({
  question: z.string(),
  answer: z.string(),
  language: z.string().optional(),
  isActive: z.boolean().optional(),
});
const faqPatchBody = z
  .object({ question: z.string(), answer: z.string(), language: z.string(), isActive: z.boolean() })
  .partial();

const botBody = z.object({ enabled: z.boolean({ error: 'enabled must be true or false' }) });
const usageQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });
const messagesQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

/** A JSON body (a form post reads as the object it is; anything else as {} so zod names what is missing). */
const bodyOf = (req: FastifyRequest): unknown => (req.body && typeof req.body === 'object' ? req.body : {});

export function apiRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.register(
    async (api) => {
      api.setErrorHandler(apiErrorHandler);
      api.setNotFoundHandler((_req, reply) => apiError(reply, 404, 'not_found', 'no such API route'));
      api.addHook('onSend', async (_req, reply, payload) => {
        reply.header('cache-control', 'no-store');
        return payload;
      });

      // FAQ ------------------------------------------------------------------------------
      api.get('/faq', owner, async (req) => {
        const q = pageQuery.parse(req.query);
        return inTenant(ctx, req, async (tx, t) => ({
          faqs: await searchFaqs(tx, t, q.q ?? '', q.limit ?? 200),
          total: await countFaqs(tx, t),
        }));
      });

      api.get('/faq/:id', owner, async (req) => {
        const { id } = idParams.parse(req.params);
        const faq = await inTenant(ctx, req, (tx, t) => getFaq(tx, t, id));
        if (!faq) throw new NotFound();
        return { faq };
      });

      api.post('/faq', owner, async (req, reply) => {
        const body = faqBody.parse(bodyOf(req));
        const faq = await change(ctx, req, 'faq.added', async (tx, t) => {
          const faq = await addFaq(tx, t, { ...body, language: body.language?.trim() || 'en' });
          return { result: faq, detail: { id: faq.id, question: faq.question, via: 'api' } };
        });
        return reply.code(201).send({ faq });
      });

      api.patch('/faq/:id', owner, async (req) => {
        const { id } = idParams.parse(req.params);
        const body = faqPatchBody.parse(bodyOf(req));
        const faq = await change(ctx, req, 'faq.updated', async (tx, t) => {
          const current = await getFaq(tx, t, id);
          if (!current) throw new NotFound();
          // a PATCH changes only the fields it names
          const faq = await updateFaq(tx, t, id, {
            question: body.question ?? current.question,
            answer: body.answer ?? current.answer,
            language: body.language ?? current.language,
            isActive: body.isActive ?? current.isActive,
          });
          return { result: faq, detail: { id: faq.id, question: faq.question, via: 'api' } };
        });
        return { faq };
      });

      api.delete('/faq/:id', owner, async (req, reply) => {
        const { id } = idParams.parse(req.params);
        await change(ctx, req, 'faq.deleted', async (tx, t) => {
          const faq = await getFaq(tx, t, id);
          if (!faq || !(await deleteFaq(tx, t, id))) throw new NotFound();
          return { result: true, detail: { id, question: faq.question, via: 'api' } };
        });
        return reply.code(204).send();
      });

      // Conversations --------------------------------------------------------------------
      api.get('/conversations', owner, async (req) => {
        const q = pageQuery.parse(req.query);
        const conversations = await inTenant(ctx, req, (tx, t) => listConversations(tx, t, { q: q.q ?? '', limit: q.limit ?? 50 }));
        return { conversations };
      });

      api.get('/conversations/:id/messages', owner, async (req) => {
        const { id } = idParams.parse(req.params);
        const { limit } = messagesQuery.parse(req.query);
        const data = await inTenant(ctx, req, async (tx, t) => {
          const c = await getConversationDetail(tx, t, id);
          if (!c) return null;
          const rows = await listConversationMessages(tx, c.id, { limit });
          const messages = rows.map((m) => ({
            id: m.id,
            direction: m.direction,
            type: m.message_type,
            body: m.body,
            status: m.status,
            answerPath: m.answer_path,
            sentBy: m.sent_by,
            createdAt: m.created_at,
          }));
          return { conversation: c, messages };
        });
        if (!data) throw new NotFound();
        return data;
      });

      // Bot switch and usage -------------------------------------------------------------
      api.get('/bot', owner, async (req) => {
        const s = await inTenant(ctx, req, (tx, t) => getControlSettings(tx, t));
        return { enabled: s.botEnabled };
      });

      api.post('/bot', owner, async (req) => {
        const { enabled } = botBody.parse(bodyOf(req));
        const s = await change(ctx, req, enabled ? 'bot.enabled' : 'bot.disabled', async (tx, t) => ({
          result: await upsertControlSettings(tx, t, { botEnabled: enabled }),
          detail: { botEnabled: enabled, via: 'api' },
        }));
        return { enabled: s.botEnabled };
      });

      api.get('/usage', owner, async (req) => {
        const { days } = usageQuery.parse(req.query);
        const rows = await inTenant(ctx, req, (tx) => listUsage(tx, { days }));
        return { days: rows };
      });

      // Products -------------------------------------------------------------------------
      api.get('/products', owner, async (req) => {
        const q = pageQuery.parse(req.query);
        return inTenant(ctx, req, async (tx, t) => {
          if (!q.q) {
            const { products, total } = await listProducts(tx, t, { page: q.page ?? 1, limit: q.limit ?? 50 });
            return { products, total, page: q.page ?? 1 };
          }
          const hits = await searchCatalog(tx, q.q, { limit: Math.min(q.limit ?? 50, 50) });
          const products = await productsByIds(tx, t, hits.products.map((h) => h.id));
          return { products, total: products.length, page: 1 };
        });
      });

      api.get('/products/:id', owner, async (req) => {
        const { id } = idParams.parse(req.params);
        const product = await inTenant(ctx, req, (tx, t) => getProduct(tx, t, id));
        if (!product) throw new NotFound();
        return { product };
      });

      api.post('/products', owner, async (req, reply) => {
        const body = productInputSchema.parse(bodyOf(req));
        const product = await change(ctx, req, 'catalog.product_added', async (tx) => {
          const p = await createProduct(tx, body);
          return { result: p, detail: { id: p.id, sku: p.sku, name: p.name, via: 'api' } };
        });
        return reply.code(201).send({ product });
      });

      api.patch('/products/:id', owner, async (req) => {
        const { id } = idParams.parse(req.params);
        const raw = bodyOf(req) as Record<string, unknown>;
        productPatchSchema.parse(raw); // 400 before touching anything
        const known = Object.fromEntries(Object.entries(raw).filter(([k]) => k in productPatchSchema.shape));
        const product = await change(ctx, req, 'catalog.product_updated', async (tx, t) => {
          const p = await updateProduct(tx, t, id, known);
          if (!p) throw new NotFound();
          return { result: p, detail: { id: p.id, sku: p.sku, fields: Object.keys(known), via: 'api' } };
        });
        return { product };
      });

      api.delete('/products/:id', owner, async (req, reply) => {
        const { id } = idParams.parse(req.params);
        await change(ctx, req, 'catalog.product_deleted', async (tx, t) => {
          const p = await deleteProduct(tx, t, id);
          if (!p) throw new NotFound();
          return { result: p, detail: { id: p.id, sku: p.sku, name: p.name, via: 'api' } };
        });
        return reply.code(204).send();
      });
    },
    { prefix: '/api' },
  );
}
