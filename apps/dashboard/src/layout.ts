import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, raw, type SafeHtml } from './html.ts';

/** The shared page frame: one stylesheet link, a nav for the role, the flash message, no scripts. */
export interface PageOptions {
  title: string;
  active?: string;
  body: SafeHtml;
}

const ownerNav: [string, string][] = [
  ['/home', 'Home'],
  ['/conversations', 'Conversations'],
  ['/faq', 'FAQ'],
  ['/catalog', 'Catalog'],
  ['/replies', 'Canned replies'],
  ['/settings', 'Settings'],
  ['/usage', 'Usage'],
  ['/credentials', 'Credentials'],
];
const operatorNav: [string, string][] = [
  ['/admin/tenants', 'Tenants'],
  ['/admin/audit', 'Audit log'],
  ['/admin/queues', 'Queues'],
];

export function csrfField(req: FastifyRequest): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${req.session?.csrfToken ?? ''}">`;
}

export function page(req: FastifyRequest, opts: PageOptions): string {
  const s = req.session;
  const nav = s ? (s.role === 'operator' ? operatorNav : ownerNav) : [];
  const q = req.query as Record<string, unknown> | undefined;
  const ok = typeof q?.ok === 'string' ? q.ok.slice(0, 300) : '';
  const err = typeof q?.err === 'string' ? q.err.slice(0, 500) : '';
  const body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${opts.title} · Alphadome</title><link rel="stylesheet" href="/style.css"></head>
<body>
<header><div class="top"><strong>${s?.tenantName ?? (s ? 'Alphadome operator' : 'Alphadome')}</strong>
${s ? html`<form class="inline" method="post" action="/logout">${csrfField(req)}<span class="muted sr-only">Signed in as </span><small>${s.email}</small> <button class="secondary" type="submit">Log out</button></form>` : ''}
</div>
${nav.length ? html`<nav aria-label="Main"><ul>${nav.map(([href, label]) => html`<li><a href="${href}"${opts.active === href ? raw(' aria-current="page"') : ''}>${label}</a></li>`)}</ul></nav>` : ''}
</header>
<main id="main">
${ok ? html`<p class="flash ok" role="status">${ok}</p>` : ''}${err ? html`<p class="flash err" role="alert">${err}</p>` : ''}
${opts.body}
</main></body></html>`;
  return body.value;
}

export function sendPage(req: FastifyRequest, reply: FastifyReply, opts: PageOptions, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(req, opts));
}

/** Post/redirect/get with a one-line message in the query string (escaped when shown). */
export function redirectWith(reply: FastifyReply, path: string, msg: { ok?: string; err?: string } = {}): FastifyReply {
  const params = new URLSearchParams();
  if (msg.ok) params.set('ok', msg.ok);
  if (msg.err) params.set('err', msg.err);
  const qs = params.toString();
  const sep = path.includes('?') ? '&' : '?';
  return reply.redirect(qs ? `${path}${sep}${qs}` : path, 303);
}
