import type { FastifyInstance } from 'fastify';
import { getTenant, listSecretKinds, putSecret, setCredentialStatus, updateTenant } from '@alphadome/tenant-core';
import { formatDate, html } from '../html.ts';
import { csrfField, redirectWith, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };
const labels: Record<string, string> = { valid: 'valid', invalid: 'rejected by WhatsApp', expired: 'expired', missing: 'not set' };

/** Credential status and replacing the WhatsApp token. No secret is ever rendered. */
export function credentialRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/credentials', owner, async (req, reply) => {
    const { tenant, kinds } = await inTenant(ctx, req, async (tx, t) => ({ tenant: await getTenant(tx, t), kinds: await listSecretKinds(tx, t) }));
    const exp = tenant?.tokenExpiresAt ?? null;
    const expiringSoon = exp !== null && exp.getTime() - Date.now() < 7 * 24 * 3600_000;
    const status = tenant?.credentialStatus ?? 'missing';
    const tokenSet = kinds.find((k) => k.kind === 'whatsapp_token');
    return sendPage(req, reply, {
      title: 'Credentials',
      active: '/credentials',
      body: html`<h1>WhatsApp credentials</h1>
<section class="card"><p>Token: <span class="badge ${status === 'valid' && !expiringSoon ? 'on' : 'off'}">${labels[status] ?? status}${
        status === 'valid' && expiringSoon ? ' — expiring soon' : ''
      }</span></p>
<p>Expires: ${exp ? formatDate(exp) : 'no date recorded'}</p>
<p class="muted">Last stored: ${tokenSet ? formatDate(tokenSet.updatedAt) : 'never'}; last checked: ${formatDate(tenant?.credentialCheckedAt)}</p>
<p class="muted">Phone number id: ${tenant?.phoneNumberId ?? '—'}</p></section>
<h2>Replace the token</h2>
<form class="card" method="post" action="/credentials/token" autocomplete="off">${csrfField(req)}
<label for="token">New access token from Meta</label><input id="token" name="token" type="password" required autocomplete="off" minlength="20" maxlength="4096">
<label for="expiresAt">Expires on <small class="muted">(optional)</small></label><input id="expiresAt" name="expiresAt" type="date">
<p><button type="submit">Save the new token</button></p></form>`,
    });
  });

  app.post('/credentials/token', owner, async (req, reply) => {
    const f = formOf(req);
    const keyring = ctx.deps.keyring;
    if (!keyring) return redirectWith(reply, '/credentials', { err: 'Tokens cannot be stored: the server has no encryption keys configured.' });
    return formAction(req, reply, '/credentials', async () => {
      const token = f('token').trim();
      if (!/^[A-Za-z0-9_\-.|]{20,4096}$/.test(token)) return redirectWith(reply, '/credentials', { err: 'That does not look like a WhatsApp access token.' });
      const expiresRaw = f('expiresAt').trim();
      const expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(expiresRaw) ? new Date(`${expiresRaw}T00:00:00Z`) : null;
      if (expiresRaw && (!expiresAt || Number.isNaN(expiresAt.getTime()))) return redirectWith(reply, '/credentials', { err: 'Expiry date is not a date.' });
      await change(ctx, req, 'credentials.token_replaced', async (tx, t) => {
        await putSecret(tx, keyring, t, 'whatsapp_token', token);
        await setCredentialStatus(tx, t, 'valid');
        await updateTenant(tx, t, { tokenExpiresAt: expiresAt });
        return { result: true, detail: { kind: 'whatsapp_token', expiresAt: expiresAt?.toISOString() ?? null } };
      });
      return 'New token saved. The bot uses it from now on.';
    });
  });
}
