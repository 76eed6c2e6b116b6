import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { listTenants, tenantChangedChannel, withOperator, withTenant } from '@alphadome/tenant-core';
import { redisUrl } from '@alphadome/testkit/database';
import { Client, seedOperator, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

let h: Harness;
let existing: SeededTenant;
let ops: Client;
let sub: Redis;
const announced: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  existing = await seedTenant(h.db.sql, 'ops-existing', '4000000001');
  ops = new Client(h.app);
  await ops.login(await seedOperator(h.db.sql));
  sub = new Redis(redisUrl());
  sub.on('message', (_ch: string, msg: string) => announced.push(msg));
  await sub.subscribe(tenantChangedChannel(h.prefix));
});
afterAll(async () => {
  sub?.disconnect();
  await h?.close();
});

const route = async (phoneNumberId: string) =>
  h.db.sql<{ tenant_id: string; status: string }[]>`select * from alphadome.route_phone_number(${phoneNumberId})`;
const tenantCount = async () => (await withOperator(h.db.sql, listTenants)).length;

const form = {
  slug: 'kassangas',
  clientName: 'Kassangas Music Shop',
  phoneNumberId: '4000000099',
  wabaId: '5000000099',
  displayPhone: '+254 702 245 555',
  coexistence: '1',
};

describe('operator: create a tenant', () => {
  it('shows the create form on the tenant list', async () => {
    const page = await ops.get('/admin/tenants');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('action="/admin/tenants"');
    for (const name of ['slug', 'clientName', 'phoneNumberId', 'wabaId', 'displayPhone', 'ownMetaApp', 'coexistence']) {
      expect(page.body).toContain(`name="${name}"`);
    }
  });

  it('creates the tenant: listed, routable, audited on both logs, announced', async () => {
    const res = await ops.post('/admin/tenants', form);
    expect(res.statusCode).toBe(303);
    const back = await ops.get(res.headers.location as string);
    expect(back.body).toContain('Tenant &quot;Kassangas Music Shop&quot; (kassangas) created.');
    expect(back.body).toContain('Kassangas Music Shop');
    expect(back.body).toContain('kassangas · 4000000099');

    const [r] = await route('4000000099');
    expect(r?.status).toBe('active');
    const id = r!.tenant_id;
    for (let i = 0; i < 50 && !announced.includes(id); i++) await new Promise((ok) => setTimeout(ok, 20));
    expect(announced).toContain(id);

    const [row] = await withTenant(h.db.sql, id, (tx) => tx<{
      slug: string; client_name: string; whatsapp_business_account_id: string | null; display_phone: string | null; own_meta_app: boolean; coexistence: boolean;
    }[]>`select slug, client_name, whatsapp_business_account_id, display_phone, own_meta_app, coexistence from alphadome.bot_tenants where id = ${id}`);
    expect(row).toEqual({
      slug: 'kassangas',
      client_name: 'Kassangas Music Shop',
      whatsapp_business_account_id: '5000000099',
      display_phone: '+254702245555',
      own_meta_app: false,
      coexistence: true,
    });
    // default control settings, coexistence throughput
    const [settings] = await withTenant(h.db.sql, id, (tx) => tx<{ send_rate_per_second: number }[]>`select send_rate_per_second from alphadome.bot_control_settings`);
    expect(settings?.send_rate_per_second).toBe(20);

    const platform = await withOperator(h.db.sql, (tx) => tx<{ actor: string; detail: { tenantId: string } }[]>`
      select actor, detail from alphadome.platform_audit_log where action = 'tenant.created'`);
    expect(platform.length).toBe(1);
    expect(platform[0]!.actor).toBe('ops@alphadome.test');
    expect(platform[0]!.detail.tenantId).toBe(id);
    const tenantLog = await withTenant(h.db.sql, id, (tx) => tx<{ actor: string }[]>`select actor from alphadome.bot_audit_log where action = 'tenant.created'`);
    expect(tenantLog.map((e) => e.actor)).toEqual(['ops@alphadome.test']);
    expect((await ops.get('/admin/audit')).body).toContain('tenant.created');
  });

  it('a duplicate slug re-renders the form with the conflict and the entered values; nothing is created', async () => {
    const before = await tenantCount();
    const res = await ops.post('/admin/tenants', { ...form, phoneNumberId: '4000000100', clientName: 'Second <b>"shop"</b>' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('tenant &quot;kassangas&quot; already exists');
    expect(res.body).toContain('value="4000000100"');
    // what was entered comes back escaped
    expect(res.body).toContain('value="Second &lt;b&gt;&quot;shop&quot;&lt;/b&gt;"');
    expect(res.body).not.toContain('<b>"shop"</b>');
    expect(res.body).toMatch(/name="coexistence" value="1" checked/);
    expect(res.body).toMatch(/<details class="card" id="create" open>/);
    expect(await tenantCount()).toBe(before);
    expect(await route('4000000100')).toEqual([]);
  });

  it('a phone number id that belongs to another tenant is a conflict too', async () => {
    const before = await tenantCount();
    const res = await ops.post('/admin/tenants', { ...form, slug: 'other-shop', phoneNumberId: '4000000001' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('phone number id 4000000001 already belongs to another tenant');
    expect(await tenantCount()).toBe(before);
    const [r] = await route('4000000001');
    expect(r?.tenant_id).toBe(existing.id);
  });

  it('an invalid phone number id (or display phone) re-renders the form with the message', async () => {
    const before = await tenantCount();
    const res = await ops.post('/admin/tenants', { ...form, slug: 'bad-number', phoneNumberId: '12ab' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Phone number id: must be the numeric phone number id from Meta');
    expect(res.body).toContain('value="bad-number"');
    expect(res.body).toContain('value="12ab"');
    const phone = await ops.post('/admin/tenants', { ...form, slug: 'bad-phone', phoneNumberId: '4000000101', displayPhone: '0702' });
    expect(phone.statusCode).toBe(400);
    expect(phone.body).toContain('Display phone: must be an E.164 phone number');
    const slug = await ops.post('/admin/tenants', { ...form, slug: 'Not A Slug', phoneNumberId: '4000000102' });
    expect(slug.statusCode).toBe(400);
    expect(slug.body).toContain('Slug: must be 1-63 lowercase letters');
    expect(await tenantCount()).toBe(before);
  });

  it('an owner cannot create tenants', async () => {
    const owner = new Client(h.app);
    await owner.login(existing.ownerEmail);
    const before = await tenantCount();
    const res = await owner.post('/admin/tenants', { ...form, slug: 'sneaky', phoneNumberId: '4000000200' });
    expect(res.statusCode).toBe(403);
    expect(await tenantCount()).toBe(before);
  });
});
