import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import {
  appendAudit,
  appendPlatformAudit,
  createTenant,
  describeZodError,
  isAppError,
  isUuid,
  listAudit,
  listPlatformAudit,
  listTenants,
  setTenantActive,
  withOperator,
  withTenant,
  type AuditEntry,
  type CreateTenantInput,
} from '@alphadome/tenant-core';
import { formatDate, html, raw } from '../html.ts';
import { csrfField, redirectWith, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { formOf, notFound, paramOf, queryOf } from './helpers.ts';

const operator = { config: { access: 'operator' as const } };

interface TenantForm {
  slug: string;
  clientName: string;
  phoneNumberId: string;
  wabaId: string;
  displayPhone: string;
  ownMetaApp: boolean;
  coexistence: boolean;
}
const emptyForm: TenantForm = { slug: '', clientName: '', phoneNumberId: '', wabaId: '', displayPhone: '', ownMetaApp: false, coexistence: false };
const fieldNames: Record<string, string> = {
  slug: 'Slug',
  clientName: 'Business name',
  phoneNumberId: 'Phone number id',
  wabaId: 'WhatsApp Business Account id',
  displayPhone: 'Display phone',
};

/** The create form as entered (trimmed; spaces and hyphens dropped from numbers), limited in length for the re-render. */
function tenantFormOf(req: FastifyRequest): TenantForm {
  const f = formOf(req);
  const text = (name: string, max: number) => f(name).trim().slice(0, max);
  const digits = (name: string) => f(name).replace(/[\s-]/g, '').slice(0, 40);
  return {
    slug: text('slug', 100),
    clientName: text('clientName', 300),
    phoneNumberId: digits('phoneNumberId'),
    wabaId: digits('wabaId'),
    displayPhone: digits('displayPhone'),
    ownMetaApp: f('ownMetaApp') === '1',
    coexistence: f('coexistence') === '1',
  };
}

function auditTable(entries: AuditEntry[]) {
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Detail</th></tr></thead>
<tbody>${entries.map(
    (e) => html`<tr><td>${formatDate(e.createdAt)}</td><td>${e.actor}</td><td>${e.action}</td><td><code>${JSON.stringify(e.detail).slice(0, 300)}</code></td></tr>`,
  )}</tbody></table></div>${entries.length === 0 ? html`<p>Nothing yet.</p>` : ''}`;
}

/** Operator pages: every tenant at a glance, enable/disable, the audit logs. */
export function operatorRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  /** The tenant list with the create form; `form` re-renders the form with what was entered and why it failed. */
  async function tenantsPage(req: FastifyRequest, reply: FastifyReply, form?: { values: TenantForm; error: string }, status = 200) {
    const tenants = await withOperator(ctx.sql, listTenants);
    const v = form?.values ?? emptyForm;
    const checked = (on: boolean) => (on ? raw(' checked') : '');
    return sendPage(
      req,
      reply,
      {
        title: 'Tenants',
        active: '/admin/tenants',
        body: html`<h1>Tenants (${tenants.length})</h1>
<details class="card" id="create"${form ? raw(' open') : ''}><summary><strong>Create a tenant</strong></summary>
${form ? html`<p class="flash err" role="alert">${form.error}</p>` : ''}
<form method="post" action="/admin/tenants">${csrfField(req)}
<label for="slug">Slug <small class="muted">(lowercase letters, digits, hyphens; used in URLs)</small></label>
<input id="slug" name="slug" type="text" required maxlength="63" autocomplete="off" value="${v.slug}">
<label for="clientName">Business name</label>
<input id="clientName" name="clientName" type="text" required maxlength="200" value="${v.clientName}">
<label for="phoneNumberId">Phone number id <small class="muted">(numeric, from Meta)</small></label>
<input id="phoneNumberId" name="phoneNumberId" type="text" required inputmode="numeric" maxlength="20" autocomplete="off" value="${v.phoneNumberId}">
<label for="wabaId">WhatsApp Business Account id <small class="muted">(optional)</small></label>
<input id="wabaId" name="wabaId" type="text" inputmode="numeric" maxlength="20" autocomplete="off" value="${v.wabaId}">
<label for="displayPhone">Display phone <small class="muted">(E.164, e.g. +254702245555; optional)</small></label>
<input id="displayPhone" name="displayPhone" type="tel" maxlength="20" value="${v.displayPhone}">
<label><input type="checkbox" name="ownMetaApp" value="1"${checked(v.ownMetaApp)}> Brings its own Meta app</label>
<label><input type="checkbox" name="coexistence" value="1"${checked(v.coexistence)}> Coexistence number (WhatsApp Business app and API on one number)</label>
<p><button type="submit">Create tenant</button></p>
</form>
<p class="muted">Then add the owner's login and the WhatsApp token with <code>npx alphadome</code>.</p></details>
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
      },
      status,
    );
  }

  app.get('/admin/tenants', operator, async (req, reply) => tenantsPage(req, reply));

  app.post('/admin/tenants', operator, async (req, reply) => {
    const values = tenantFormOf(req);
    const actor = req.session?.email ?? 'operator';
    const input: CreateTenantInput = {
      slug: values.slug,
      clientName: values.clientName,
      phoneNumberId: values.phoneNumberId,
      ...(values.wabaId ? { wabaId: values.wabaId } : {}),
      ...(values.displayPhone ? { displayPhone: values.displayPhone } : {}),
      ownMetaApp: values.ownMetaApp,
      coexistence: values.coexistence,
    };
    let tenant;
    try {
      tenant = await createTenant(ctx.sql, input, { actor });
    } catch (err) {
      if (err instanceof ZodError) return tenantsPage(req, reply, { values, error: describeZodError(err, fieldNames) }, 400);
      if (isAppError(err) && (err.code === 'conflict' || err.code === 'bad_request')) {
        return tenantsPage(req, reply, { values, error: err.message }, err.httpStatus);
      }
      throw err;
    }
    await withOperator(ctx.sql, (tx) =>
      appendPlatformAudit(tx, {
        actor,
        action: 'tenant.created',
        detail: { tenantId: tenant.id, slug: tenant.slug, phoneNumberId: tenant.phoneNumberId, ownMetaApp: tenant.ownMetaApp, coexistence: tenant.coexistence },
      }),
    );
    await ctx.announce(tenant.id);
    return redirectWith(reply, '/admin/tenants', { ok: `Tenant "${tenant.clientName}" (${tenant.slug}) created.` });
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
