import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { appendAudit, describeZodError, isAppError, withTenant, type Tx } from '@alphadome/tenant-core';
import { html } from '../html.ts';
import { redirectWith, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';

/** The session's tenant (owner routes only reach handlers with one). */
export function tenantOf(req: FastifyRequest): string {
  const id = req.session?.tenantId;
  if (!id) throw new Error('owner route without a tenant session');
  return id;
}

/** Read work for the session's tenant. */
export function inTenant<T>(ctx: DashboardContext, req: FastifyRequest, fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<T> {
  const tenantId = tenantOf(req);
  return withTenant(ctx.sql, tenantId, (tx) => fn(tx, tenantId));
}

export class NotFound extends Error {}

/**
 * A change for the session's tenant: the work and its audit row in one transaction, then the
 * announcement that makes workers drop their cached tenant context. `fn` throws NotFound
 * for an id outside the tenant (RLS hides it, so it reads as absent).
 */
export async function change<T>(
  ctx: DashboardContext,
  req: FastifyRequest,
  action: string,
  fn: (tx: Tx, tenantId: string) => Promise<{ result: T; detail?: Record<string, unknown> }>,
): Promise<T> {
  const tenantId = tenantOf(req);
  const result = await withTenant(ctx.sql, tenantId, async (tx) => {
    const r = await fn(tx, tenantId);
    await appendAudit(tx, { tenantId, actor: req.session?.email ?? 'dashboard', action, detail: r.detail ?? {} });
    return r.result;
  });
  await ctx.announce(tenantId);
  return result;
}

export function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendPage(req, reply, { title: 'Not found', body: html`<h1>Not found</h1><p>There is nothing here.</p>` }, 404);
}

/** A form's text fields (urlencoded or multipart); anything else reads as ''. */
export function formOf(req: FastifyRequest): (name: string) => string {
  const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  return (name) => {
    const v = body[name];
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && typeof v[v.length - 1] === 'string') return v[v.length - 1] as string;
    return '';
  };
}

export function queryOf(req: FastifyRequest, name: string): string {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

export function paramOf(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

/** Run a form action; a validation problem goes back to `back` as a message instead of a 500. */
export async function formAction(
  req: FastifyRequest,
  reply: FastifyReply,
  back: string,
  fn: () => Promise<FastifyReply | string>,
): Promise<FastifyReply> {
  try {
    const r = await fn();
    return typeof r === 'string' ? redirectWith(reply, back, { ok: r }) : r;
  } catch (err) {
    if (err instanceof NotFound) return notFound(req, reply);
    if (err instanceof ZodError) return redirectWith(reply, back, { err: describeZodError(err) });
    if (isAppError(err) && err.code === 'not_found') return notFound(req, reply);
    if (isAppError(err) && (err.code === 'bad_request' || err.code === 'conflict')) return redirectWith(reply, back, { err: err.message });
    throw err;
  }
}
