import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { announceTenantChanged, inboundJobId, putSecret, withTenant } from '@alphadome/tenant-core';
import { redisUrl } from '@alphadome/testkit/database';
import { buildTextWebhook, buildWebhookObject, toMetaJson } from '@alphadome/whatsapp';
import {
  createTenant,
  keyring,
  metricsText,
  metricValue,
  post,
  startHarness,
  VERIFY_TOKEN,
  type Harness,
} from './helpers.ts';

/**
 * POST /webhooks/whatsapp/:tenantSlug — a tenant that brings its own Meta app: the body is
 * verified with that tenant's secret (decrypted under its tenant scope), and only items for
 * that tenant's own phone numbers are accepted.
 */
let h: Harness;
let own: string;
let other: string;
const OWN_SECRET = 'own-meta-app-secret-of-duka';
const OWN_PHONE = '200000000000001';
const OTHER_PHONE = '200000000000002';

const text = (phoneNumberId: string, wamid: string) =>
  buildTextWebhook({ phoneNumberId, displayPhoneNumber: '254700000100', from: '254722000000', wamid, text: 'Bei gani?' });

beforeAll(async () => {
  h = await startHarness('tenant-webhook');
  own = await createTenant(h.db.sql, { slug: 'duka', phoneNumberId: OWN_PHONE, ownMetaApp: true, appSecret: OWN_SECRET });
  other = await createTenant(h.db.sql, { slug: 'other-shop', phoneNumberId: OTHER_PHONE });
  await createTenant(h.db.sql, { slug: 'platform-app-shop', phoneNumberId: '200000000000003', ownMetaApp: false });
  await createTenant(h.db.sql, { slug: 'no-secret', phoneNumberId: '200000000000004', ownMetaApp: true });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(async () => {
  await h.drain();
});

describe('per-tenant webhook route', () => {
  it("verifies with the tenant's own secret and enqueues for that tenant", async () => {
    const res = await post(h.app, text(OWN_PHONE, 'wamid.own-1'), { path: '/webhooks/whatsapp/duka', secret: OWN_SECRET });
    expect(res.statusCode).toBe(200);
    const [job] = await h.jobs('inbound');
    expect(job!.id).toBe(inboundJobId(own, 'wamid.own-1'));
    expect(job!.data.tenantId).toBe(own);
  });

  it("the platform secret (or any other) does not open a tenant's route: 401, nothing enqueued", async () => {
    const res = await post(h.app, text(OWN_PHONE, 'wamid.own-2'), { path: '/webhooks/whatsapp/duka' });
    expect(res.statusCode).toBe(401);
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it("the tenant's secret does not open the platform route", async () => {
    const res = await post(h.app, text(OWN_PHONE, 'wamid.own-3'), { secret: OWN_SECRET });
    expect(res.statusCode).toBe(401);
  });

  it("entries for another tenant's phone number are refused (never enqueued), its own are kept; answered 200", async () => {
    const obj = buildWebhookObject({
      phoneNumberId: OWN_PHONE,
      displayPhoneNumber: '254700000100',
      messages: [{ from: '254722000000', id: 'wamid.own-mixed', timestamp: '1750000000', type: 'text', text: { body: 'mine' } }],
    }) as { entry: unknown[] };
    const foreign = buildWebhookObject({
      phoneNumberId: OTHER_PHONE,
      displayPhoneNumber: '254700000200',
      wabaId: '2999',
      messages: [{ from: '254722000001', id: 'wamid.foreign', timestamp: '1750000000', type: 'text', text: { body: 'injected' } }],
      statuses: [{ id: 'wamid.foreign-out', status: 'read', timestamp: '1750000000', recipient_id: '254722000001' }],
    }) as { entry: unknown[] };
    obj.entry.push(...foreign.entry);
    const before = metricValue(await metricsText(h.app), 'alphadome_ingress_refused_items_total');
    const res = await post(h.app, toMetaJson(obj), { path: '/webhooks/whatsapp/duka', secret: OWN_SECRET });
    expect(res.statusCode).toBe(200);
    const jobs = await h.jobs('inbound');
    expect(jobs.map((j) => j.data.wamid)).toEqual(['wamid.own-mixed']);
    expect(jobs.every((j) => j.data.tenantId === own)).toBe(true);
    expect(await h.jobs('status')).toHaveLength(0);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_refused_items_total')).toBe(before + 2);
  });

  it('a POST with only foreign entries is answered 200 with nothing enqueued', async () => {
    const res = await post(h.app, text(OTHER_PHONE, 'wamid.only-foreign'), { path: '/webhooks/whatsapp/duka', secret: OWN_SECRET });
    expect(res.statusCode).toBe(200);
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it('the platform route still takes the other tenant, whose number is on the platform app', async () => {
    const res = await post(h.app, text(OTHER_PHONE, 'wamid.platform-other'));
    expect(res.statusCode).toBe(200);
    expect((await h.jobs('inbound'))[0]!.data.tenantId).toBe(other);
  });

  it('unknown slug, malformed slug, or a tenant on the platform app → 404', async () => {
    for (const path of ['/webhooks/whatsapp/nobody', '/webhooks/whatsapp/platform-app-shop', '/webhooks/whatsapp/Bad_Slug']) {
      const res = await post(h.app, text(OWN_PHONE, 'wamid.x'), { path, secret: OWN_SECRET });
      expect(res.statusCode, path).toBe(404);
    }
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it('a tenant with its own app but no secret stored → 503 (Meta retries until it is set)', async () => {
    const res = await post(h.app, text('200000000000004', 'wamid.nosecret'), { path: '/webhooks/whatsapp/no-secret', secret: 'anything' });
    expect(res.statusCode).toBe(503);
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it('a rotated secret is picked up on the tenant-changed announcement (cache invalidation)', async () => {
    const rotated = 'rotated-own-meta-app-secret';
    // warm the cache with the old secret
    expect((await post(h.app, text(OWN_PHONE, 'wamid.rot-0'), { path: '/webhooks/whatsapp/duka', secret: OWN_SECRET })).statusCode).toBe(200);
    await withTenant(h.db.sql, own, (tx) => putSecret(tx, keyring, own, 'meta_app_secret', rotated));
    expect((await post(h.app, text(OWN_PHONE, 'wamid.rot-1'), { path: '/webhooks/whatsapp/duka', secret: rotated })).statusCode).toBe(401);
    expect(await announceTenantChanged(redisUrl(), h.prefix, own)).toBe(true);
    await expect
      .poll(async () => (await post(h.app, text(OWN_PHONE, 'wamid.rot-2'), { path: '/webhooks/whatsapp/duka', secret: rotated })).statusCode, {
        timeout: 5_000,
      })
      .toBe(200);
    await withTenant(h.db.sql, own, (tx) => putSecret(tx, keyring, own, 'meta_app_secret', OWN_SECRET));
    await announceTenantChanged(redisUrl(), h.prefix, own);
  });

  it("a phone number moved to another tenant is routed to the new one once the change is announced", async () => {
    const moved = '200000000000009';
    const first = await createTenant(h.db.sql, { slug: 'first-owner', phoneNumberId: moved });
    expect((await post(h.app, text(moved, 'wamid.move-1'))).statusCode).toBe(200);
    await h.db.sql`update alphadome.bot_tenants set whatsapp_phone_number_id = null where id = ${first}`;
    const second = await createTenant(h.db.sql, { slug: 'second-owner', phoneNumberId: moved });
    await announceTenantChanged(redisUrl(), h.prefix, first);
    await expect
      .poll(async () => {
        await h.drain();
        await post(h.app, text(moved, `wamid.move-${Date.now()}`));
        return (await h.jobs('inbound'))[0]?.data.tenantId;
      }, { timeout: 5_000 })
      .toBe(second);
  });
});

describe('GET handshake', () => {
  it('echoes hub.challenge as plain text for the right token', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('1158201444');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('403 for a wrong token, a wrong mode, or no challenge', async () => {
    for (const qs of [
      `hub.mode=subscribe&hub.verify_token=wrong-token-value&hub.challenge=1`,
      `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
      `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}`,
      `hub.mode=subscribe&hub.challenge=1`,
      '',
    ]) {
      const res = await h.app.inject({ method: 'GET', url: `/webhooks/whatsapp?${qs}` });
      expect(res.statusCode, qs).toBe(403);
    }
  });

  it("answers on a tenant's own-app callback URL too (Meta verifies whatever URL is registered)", async () => {
    const ok = await h.app.inject({
      method: 'GET',
      url: `/webhooks/whatsapp/duka?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=42`,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('42');
    const unknown = await h.app.inject({
      method: 'GET',
      url: `/webhooks/whatsapp/nobody?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=42`,
    });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('without ENCRYPTION_KEYS', () => {
  it('the per-tenant route answers 503 (config error logged), the platform route works', async () => {
    const bare = await startHarness('no-keyring', { db: h.db, env: { ENCRYPTION_KEYS: undefined } });
    try {
      const res = await post(bare.app, text(OWN_PHONE, 'wamid.nokeys'), { path: '/webhooks/whatsapp/duka', secret: OWN_SECRET });
      expect(res.statusCode).toBe(503);
      expect(await bare.jobs('inbound')).toHaveLength(0);
      expect((await post(bare.app, text(OTHER_PHONE, 'wamid.nokeys-platform'))).statusCode).toBe(200);
    } finally {
      await bare.close();
    }
  });
});
