import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { getTenant, withTenant } from '@alphadome/tenant-core';
import { checkLogin, checkSupabaseLogin, createSession, deleteSession, loadSession, type LoginResult } from './data/sessions.ts';
import { html } from './html.ts';
import { redirectWith, sendPage } from './layout.ts';
import { apiError } from './routes/api.ts';
import { supabaseSignIn } from './supabase.ts';
import type { Access, DashboardContext } from './types.ts';

export const SESSION_COOKIE = 'ad_session';
const LOGIN_CSRF_COOKIE = 'ad_login_csrf';
const DEFAULT_TTL_MS = 8 * 3600_000;

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function tokensEqual(a: unknown, b: string): boolean {
  if (typeof a !== 'string' || a.length === 0) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isLocalPlainHttp(req: FastifyRequest): boolean {
  return req.protocol === 'http' && ['localhost', '127.0.0.1', '[::1]', '::1'].includes(req.hostname);
}

function secureFor(ctx: DashboardContext, req: FastifyRequest): boolean {
  const opt = ctx.deps.secureCookies ?? 'auto';
  return opt === 'auto' ? !isLocalPlainHttp(req) : opt;
}

/** Bull Board's own UI posts JSON without our token: for it, a same-origin fetch stands in for the token. */
function sameOriginApiCall(req: FastifyRequest): boolean {
  if (!req.url.startsWith('/admin/queues/api/')) return false;
  if (req.headers['sec-fetch-site'] === 'same-origin') return true;
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host === new URL(`${req.protocol}://${req.headers.host ?? ''}`).host;
  } catch {
    return false;
  }
}

/** Per-IP login attempts in this process: a cheap first line in front of the account lock-out. */
function createIpLimiter(max: number, windowMs: number) {
  const hits = new Map<string, { count: number; resetAt: number }>();
  return {
    blocked(ip: string): boolean {
      const h = hits.get(ip);
      return !!h && h.resetAt > Date.now() && h.count >= max;
    },
    fail(ip: string): void {
      const now = Date.now();
      if (hits.size > 10_000) for (const [k, v] of hits) if (v.resetAt <= now) hits.delete(k);
      const h = hits.get(ip);
      if (!h || h.resetAt <= now) hits.set(ip, { count: 1, resetAt: now + windowMs });
      else h.count++;
    },
  };
}

/**
 * Sessions, the access rule of every route (config.access), CSRF on every state-changing
 * request, and the login/logout routes. Registered on the root instance so the hooks cover
 * every route, Bull Board's included.
 */
export function registerAuth(app: FastifyInstance, ctx: DashboardContext): void {
  const ttlMs = ctx.deps.sessionTtlMs ?? DEFAULT_TTL_MS;
  const limiter = createIpLimiter(ctx.deps.loginRateLimit?.max ?? 20, ctx.deps.loginRateLimit?.windowMs ?? 10 * 60_000);
  const tenantNames = new Map<string, { name: string; at: number }>();

  async function tenantName(tenantId: string): Promise<string | null> {
    const hit = tenantNames.get(tenantId);
    if (hit && Date.now() - hit.at < 60_000) return hit.name;
    const t = await withTenant(ctx.sql, tenantId, (tx) => getTenant(tx, tenantId));
    if (!t) return null;
    tenantNames.set(tenantId, { name: t.clientName, at: Date.now() });
    return t.clientName;
  }

  app.decorateRequest('session', null);

  app.addHook('preHandler', async (req, reply) => {
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie) {
      const s = await loadSession(ctx.sql, cookie);
      if (s) req.session = { ...s, tenantName: s.tenantId ? await tenantName(s.tenantId) : null };
      else reply.clearCookie(SESSION_COOKIE, { path: '/' });
    }
    // unknown URLs get the 404 page (with the session's nav), not a login redirect or a 403
    if (req.is404) return;
    const access: Access = req.routeOptions.config.access ?? 'operator';
    if (access === 'public') return;
    const s = req.session;
    // the JSON API answers in JSON: 401 instead of the login redirect, the token only in the header
    const isApi = req.url.startsWith('/api/');
    if (!s) return isApi ? apiError(reply, 401, 'unauthorized', 'log in first (session cookie)') : reply.redirect('/', 302);
    if ((access === 'owner' && (s.role !== 'owner' || !s.tenantId)) || (access === 'operator' && s.role !== 'operator')) {
      if (isApi) return apiError(reply, 403, 'forbidden', 'not available to this account');
      return sendPage(req, reply, { title: 'Not allowed', body: html`<h1>Not allowed</h1><p>This page is not available to your account.</p>` }, 403);
    }
    if (!safeMethods.has(req.method)) {
      const body = req.body as Record<string, unknown> | undefined;
      const token = isApi ? req.headers['x-csrf-token'] : ((body && typeof body === 'object' ? body._csrf : undefined) ?? req.headers['x-csrf-token']);
      if (!tokensEqual(token, s.csrfToken) && !sameOriginApiCall(req)) {
        if (isApi) return apiError(reply, 403, 'csrf', 'missing or wrong x-csrf-token header');
        return sendPage(req, reply, { title: 'Form expired', body: html`<h1>Form expired</h1><p>Please go back, reload the page and try again.</p>` }, 403);
      }
    }
  });

  const cookieOpts = (req: FastifyRequest, maxAgeS: number) => ({
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: secureFor(ctx, req),
    maxAge: maxAgeS,
  });

  function loginForm(req: FastifyRequest, reply: FastifyReply, status: number, error?: string) {
    let token = req.cookies[LOGIN_CSRF_COOKIE];
    if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) {
      token = randomBytes(32).toString('base64url');
      reply.setCookie(LOGIN_CSRF_COOKIE, token, cookieOpts(req, 3600));
    }
    return sendPage(
      req,
      reply,
      {
        title: 'Log in',
        body: html`<h1>Log in</h1>
${error ? html`<p class="flash err" role="alert">${error}</p>` : ''}
<form class="card" method="post" action="/login">
<input type="hidden" name="_csrf" value="${token}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Log in</button></p>
</form>
<p class="muted">Forgot your password? Ask your Alphadome operator to reset it.</p>
${ctx.deps.supabase
  ? html`<h2>Sign in with your Supabase account</h2>
<form class="card" method="post" action="/login/supabase">
<input type="hidden" name="_csrf" value="${token}">
<label for="sb-email">Email</label><input id="sb-email" name="email" type="email" autocomplete="username" required>
<label for="sb-password">Password</label><input id="sb-password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in with Supabase</button></p>
</form>`
  : ''}`,
      },
      status,
    );
  }

  const home = (role: 'owner' | 'operator') => (role === 'operator' ? '/admin/tenants' : '/home');

  app.get('/', { config: { access: 'public' } }, async (req, reply) => {
    if (req.session) return reply.redirect(home(req.session.role), 302);
    return loginForm(req, reply, 200);
  });

  /** The double-submit login token and the per-IP limiter, shared by both sign-in forms; a reply when refused. */
  function refuseLoginAttempt(req: FastifyRequest, reply: FastifyReply) {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!tokensEqual(body._csrf, req.cookies[LOGIN_CSRF_COOKIE] ?? '')) {
      return loginForm(req, reply, 403, 'The form expired. Please try again.');
    }
    if (limiter.blocked(req.ip)) {
      ctx.metrics.logins.inc({ outcome: 'rate_limited' });
      return loginForm(req, reply, 429, 'Too many attempts from this network. Please wait a few minutes.');
    }
    return null;
  }

  function credentials(req: FastifyRequest): { email: string; password: string } {
    const body = (req.body ?? {}) as Record<string, unknown>;
    return {
      email: typeof body.email === 'string' ? body.email.slice(0, 320) : '',
      password: typeof body.password === 'string' ? body.password.slice(0, 1024) : '',
    };
  }

  /** The refusal page, or the new server-side session and the landing redirect. */
  async function finishLogin(req: FastifyRequest, reply: FastifyReply, result: LoginResult) {
    if (!result.ok) {
      limiter.fail(req.ip);
      ctx.metrics.logins.inc({ outcome: result.reason });
      const msg =
        result.reason === 'locked'
          ? 'Too many wrong passwords: this account is locked for 15 minutes.'
          : 'Wrong email or password.';
      return loginForm(req, reply, 401, msg);
    }
    ctx.metrics.logins.inc({ outcome: 'ok' });
    const { id } = await createSession(ctx.sql, result.userId, ttlMs);
    reply.setCookie(SESSION_COOKIE, id, cookieOpts(req, Math.floor(ttlMs / 1000)));
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/' });
    return reply.redirect(home(result.role), 303);
  }

  app.post('/login', { config: { access: 'public' } }, async (req, reply) => {
    const refused = refuseLoginAttempt(req, reply);
    if (refused) return refused;
    const { email, password } = credentials(req);
    const result = email && password ? await checkLogin(ctx.sql, email, password, req.ip) : ({ ok: false, reason: 'invalid' } as const);
    return finishLogin(req, reply, result);
  });

  const supabase = ctx.deps.supabase;
  if (supabase) {
    // Supabase Auth checks the password; the confirmed email maps to an existing dashboard account
    app.post('/login/supabase', { config: { access: 'public' } }, async (req, reply) => {
      const refused = refuseLoginAttempt(req, reply);
      if (refused) return refused;
      const { email, password } = credentials(req);
      const signIn = email && password ? await supabaseSignIn(supabase, email, password) : ({ ok: false, reason: 'invalid' } as const);
      if (!signIn.ok && signIn.reason === 'unavailable') {
        req.log.warn({ detail: signIn.detail }, 'Supabase sign-in failed');
        ctx.metrics.logins.inc({ outcome: 'unavailable' });
        return loginForm(req, reply, 503, 'Supabase sign-in is not available right now. Please try again later.');
      }
      const result = signIn.ok ? await checkSupabaseLogin(ctx.sql, signIn.email, req.ip) : ({ ok: false, reason: 'invalid' } as const);
      return finishLogin(req, reply, result);
    });
  }

  app.post('/logout', { config: { access: 'user' } }, async (req, reply) => {
    if (req.session) await deleteSession(ctx.sql, req.session.idHash);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return redirectWith(reply, '/');
  });
}
