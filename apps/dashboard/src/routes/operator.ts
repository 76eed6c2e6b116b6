import type { FastifyInstance } from 'fastify';
import {
  appendAudit,
  appendPlatformAudit,
  isUuid,
  listAudit,
  listPlatformAudit,
  listTenants,
  setTenantActive,
  withOperator,
  withTenant,
  type AuditEntry,
} from '@alphadome/tenant-core';
import { formatDate, html } from '../html.ts';
import { csrfField, redirectWith, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { notFound, paramOf, queryOf } from './helpers.ts';

const operator = { config: { access: 'operator' as const } };

function auditTable(entries: AuditEntry[]) {
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Detail</th></tr></thead>
<tbody>${entries.map(
    (e) => html`<tr><td>${formatDate(e.createdAt)}</td><td>${e.actor}</td><td>${e.action}</td><td><code>${JSON.stringify(e.detail).slice(0, 300)}</code></td></tr>`,
  )}</tbody></table></div>${entries.length === 0 ? html`<p>Nothing yet.</p>` : ''}`;
}

/** Operator pages: every tenant at a glance, enable/disable, the audit logs. */
export function operatorRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/admin/tenants', operator, async (req, reply) => {
    const tenants = await withOperator(ctx.sql, listTenants);
    return sendPage(req, reply, {
      title: 'Tenants',
      active: '/admin/tenants',
      body: html`<h1>Tenants (${tenants.length})</h1>
<p class="muted">Create tenants with <code>npx alphadome tenant create</code>.</p>
<div class="table-wrap"><table><thead><tr><th scope="col">Tenant</th><th scope="col">Status</th><th scope="col">Credentials</th><th scope="col">Last message</th><th scope="col">Messages 7 d</th><th scope="col">Failed 7 d</th><th scope="col">Action</th></tr></thead>
<tbody>${tenants.map(
        (t) => html`<tr><td><strong>${t.clientName}</strong><br><small class="muted">${t.slug} · ${t.phoneNumberId ?? 'no number'}</small></td>
<td>${t.isActive ? html`<span class="badge on">active</span>` : html`<span class="badge off">disabled</span>`}</td>
<td>${t.credentialStatus}${t.tokenExpiresAt ? html`<br><small>expires ${formatDate(t.tokenExpiresAt)}</small>` : ''}</td>
<td>${formatDate(t.lastMessageAt)}</td><td>${t.messages7d}</td>
<td>${t.failed7d}${t.messages7d > 0 ? html` <small class="muted">(${((t.failed7d / t.messages7d) * 100).toFixed(1)} %)</small>` : ''}</td>
<td><form method="post" action="/admin/tenants/${t.id}/${t.isActive ? 'disable' : 'enable'}">${csrfField(req)}<button type="submit" class="${t.isActive ? 'danger' : ''}">${t.isActive ? 'Disable' : 'Enable'}</button></form>
<a href="/admin/audit?tenant=${t.id}">Audit log</a></td></tr>`,
      )}</tbody></table></div>`,
    });
  });

  for (const action of ['enable', 'disable'] as const) {
    app.post(`/admin/tenants/:id/${action}`, operator, async (req, reply) => {
      const id = paramOf(req, 'id');
      if (!isUuid(id)) return notFound(req, reply);
      const actor = req.session?.email ?? 'operator';
      const found = await withTenant(ctx.sql, id, async (tx) => {
        const rows = await tx`select id from alphadome.bot_tenants where id = ${id}`;
        if (rows.length === 0) return false;
        await setTenantActive(tx, id, action === 'enable');
        await appendAudit(tx, { tenantId: id, actor, action: `tenant.${action}d`, detail: {} });
        return true;
      });
      if (!found) return notFound(req, reply);
      await withOperator(ctx.sql, (tx) => appendPlatformAudit(tx, { actor, action: `tenant.${action}d`, detail: { tenantId: id } }));
      await ctx.announce(id);
      return redirectWith(reply, '/admin/tenants', { ok: action === 'enable' ? 'Tenant enabled.' : 'Tenant disabled.' });
    });
  }

  app.get('/admin/audit', operator, async (req, reply) => {
    const tenantId = queryOf(req, 'tenant');
    if (tenantId && !isUuid(tenantId)) return notFound(req, reply);
    const entries = tenantId
      ? await withTenant(ctx.sql, tenantId, (tx) => listAudit(tx, tenantId, { limit: 200 }))
      : await withOperator(ctx.sql, (tx) => listPlatformAudit(tx, { limit: 200 }));
    return sendPage(req, reply, {
      title: 'Audit log',
      active: '/admin/audit',
      body: html`<h1>${tenantId ? 'Tenant audit log' : 'Platform audit log'}</h1>
${tenantId ? html`<p><a href="/admin/audit">Platform audit log</a> · <a href="/admin/tenants">Tenants</a></p>` : html`<p class="muted">Logins, tenant status changes. A tenant's own log is linked from the tenant list.</p>`}
${auditTable(entries)}`,
    });
  });
}
