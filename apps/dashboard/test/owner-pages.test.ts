import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { getSecret, queueNames, redisOptionsFromUrl, tenantChangedChannel, withTenant } from '@alphadome/tenant-core';
import { redisUrl } from '@alphadome/testkit/database';
import { sendJobId } from '@alphadome/tenant-core';
import { Client, keyring, seedOperator, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

let h: Harness;
let a: SeededTenant;
let b: SeededTenant;
let owner: Client;
let sub: Redis;
const announced: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  a = await seedTenant(h.db.sql, 'pages-a', '3000000001');
  b = await seedTenant(h.db.sql, 'pages-b', '3000000002');
  owner = new Client(h.app);
  await owner.login(a.ownerEmail);
  sub = new Redis(redisUrl());
  sub.on('message', (_ch: string, msg: string) => announced.push(msg));
  await sub.subscribe(tenantChangedChannel(h.prefix));
});
afterAll(async () => {
  sub?.disconnect();
  await h?.close();
});

/** The message a redirect carries (?ok=… or ?err=…). */
const flash = (res: { headers: Record<string, unknown> }) => {
  const q = new URL(String(res.headers.location), 'http://x').searchParams;
  return `${q.get('ok') ?? ''}${q.get('err') ?? ''}`;
};

const audit = (action: string) =>
  withTenant(h.db.sql, a.id, (tx) => tx<{ detail: Record<string, unknown> }[]>`select detail from alphadome.bot_audit_log where action = ${action}`);

async function expectAnnounced(tenantId: string) {
  for (let i = 0; i < 50 && !announced.includes(tenantId); i++) await new Promise((r) => setTimeout(r, 20));
  expect(announced).toContain(tenantId);
  announced.length = 0;
}

describe('FAQ', () => {
  it('adds, searches, edits and deletes an entry; every change is audited and announced', async () => {
    const add = await owner.post('/faq', { question: 'Do you sell guitar strings?', answer: 'Yes, from KES 800 a set.' });
    expect(add.statusCode).toBe(303);
    await expectAnnounced(a.id);
    const list = await owner.get('/faq?q=strings');
    expect(list.body).toContain('Yes, from KES 800 a set.');
    expect(list.body).not.toContain(a.marker); // the search narrowed the list
    const id = /href="\/faq\/([0-9a-f-]{36})"/.exec(list.body)![1]!;
    expect((await owner.post(`/faq/${id}`, { question: 'Do you sell guitar strings?', answer: 'Yes: KES 850.', active: '1' })).statusCode).toBe(303);
    expect((await owner.get(`/faq/${id}`)).body).toContain('Yes: KES 850.');
    expect((await owner.post(`/faq/${id}/delete`)).statusCode).toBe(303);
    expect((await owner.get(`/faq/${id}`)).statusCode).toBe(404);
    expect((await audit('faq.added')).length).toBe(1);
    expect((await audit('faq.updated')).length).toBe(1);
    expect((await audit('faq.deleted')).length).toBe(1);
  });

  it('shows a validation problem instead of failing', async () => {
    const res = await owner.post('/faq', { question: '', answer: 'x' });
    expect(res.statusCode).toBe(303);
    const back = await owner.get(res.headers.location as string);
    expect(back.body).toContain('question is empty');
  });

  it('escapes what owners and customers typed', async () => {
    await owner.post('/faq', { question: '<script>alert(1)</script>', answer: '"><img src=x onerror=alert(1)>' });
    const page = await owner.get('/faq');
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<img src=x');
  });

  it('imports CSV pasted into the form', async () => {
    const csv = 'question,answer\nDo you repair amps?,Yes — bring it in.\n"Where are you, exactly?","Moi Avenue, Nairobi"\n';
    const res = await owner.post('/faq/import', { csv });
    const back = await owner.get(res.headers.location as string);
    expect(back.body).toContain('2 added');
    expect(back.body).toContain('Moi Avenue, Nairobi');
    // importing again updates instead of duplicating
    const again = await owner.get((await owner.post('/faq/import', { csv })).headers.location as string);
    expect(again.body).toContain('0 added, 2 updated');
  });

  it('imports an uploaded CSV file (multipart form)', async () => {
    const boundary = '----adtest' + Date.now();
    const part = (name: string, value: string, filename?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n${
        filename ? 'Content-Type: text/csv\r\n' : ''
      }\r\n${value}\r\n`;
    const payload = part('_csrf', owner.csrf) + part('csv', '') + part('file', 'question,answer\nDo you deliver?,Yes in Nairobi\n', 'faq.csv') + `--${boundary}--\r\n`;
    const res = await h.app.inject({
      method: 'POST',
      url: '/faq/import',
      headers: { cookie: owner.cookieHeader, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode).toBe(303);
    expect(flash(res)).toContain('1 added');
    // without the token inside the multipart body: refused
    const bad = await h.app.inject({
      method: 'POST',
      url: '/faq/import',
      headers: { cookie: owner.cookieHeader, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: part('file', 'question,answer\nq,a\n', 'faq.csv') + `--${boundary}--\r\n`,
    });
    expect(bad.statusCode).toBe(403);
  });

  it('reports a bad CSV line', async () => {
    const res = await owner.post('/faq/import', { csv: 'question,answer\nonly a question,\n' });
    const back = await owner.get(res.headers.location as string);
    expect(back.body).toMatch(/pasted\.csv:2/);
  });
});

describe('canned replies', () => {
  it('adds, edits and deletes a canned reply with triggers', async () => {
    await owner.post('/replies', { name: 'location', triggers: 'where, location, wapi', body: 'Moi Avenue, Nairobi', active: '1' });
    const list = await owner.get('/replies');
    expect(list.body).toContain('where, location, wapi');
    const dup = await owner.post('/replies', { name: 'location', triggers: 'x', body: 'y', active: '1' });
    expect(flash(dup)).toContain('exists already');
    const id = [...list.body.matchAll(/href="\/replies\/([0-9a-f-]{36})"/g)].map((m) => m[1]!).find((x) => x !== a.templateId)!;
    await owner.post(`/replies/${id}`, { name: 'location', triggers: 'where', body: 'Kenyatta Avenue', active: '1' });
    expect((await owner.get(`/replies/${id}`)).body).toContain('Kenyatta Avenue');
    await owner.post(`/replies/${id}/delete`);
    expect((await owner.get(`/replies/${id}`)).statusCode).toBe(404);
    expect((await audit('template.added')).length).toBe(1);
    await expectAnnounced(a.id);
  });
});

describe('bot switch and settings', () => {
  it('switches the bot off and on', async () => {
    await owner.post('/bot', { enabled: '0' });
    await expectAnnounced(a.id);
    expect((await owner.get('/home')).body).toContain('>OFF<');
    const [row] = await withTenant(h.db.sql, a.id, (tx) => tx<{ bot_enabled: boolean }[]>`select bot_enabled from alphadome.bot_control_settings`);
    expect(row!.bot_enabled).toBe(false);
    await owner.post('/bot', { enabled: '1' });
    expect((await owner.get('/home')).body).toContain('>ON<');
    expect((await audit('bot.disabled')).length).toBe(1);
    expect((await audit('bot.enabled')).length).toBe(1);
  });

  it('saves settings, and refuses a bad phone number with a message', async () => {
    const form = {
      systemPrompt: 'You are the assistant of Kassangas Music Shop.',
      tone: 'friendly',
      fallbackMessage: 'Gideon will answer soon.',
      handoverMessage: 'Passing you to Gideon.',
      awayMessage: 'We are closed; we open at 9.',
      escalationPhone: '+254 702 245 555',
      escalationEmail: 'gideon@kassangas.test',
    };
    await owner.post('/settings', form);
    const page = await owner.get('/settings');
    expect(page.body).toContain('Kassangas Music Shop.');
    expect(page.body).toContain('+254702245555');
    const bad = await owner.post('/settings', { ...form, escalationPhone: '0702' });
    expect(flash(bad)).toContain('E.164');
  });

  it('saves business hours in the schedule format the worker reads', async () => {
    const base = { fallbackMessage: 'f', handoverMessage: 'h', hoursEnabled: '1', hours_mon: '09:00-13:00, 14:00-18:00', hours_sat: '9:00-13:00' };
    await owner.post('/settings', base);
    const [row] = await withTenant(h.db.sql, a.id, (tx) => tx<{ business_hours: unknown }[]>`select business_hours from alphadome.bot_control_settings`);
    expect(row!.business_hours).toEqual({
      mon: [['09:00', '13:00'], ['14:00', '18:00']],
      tue: [], wed: [], thu: [], fri: [],
      sat: [['09:00', '13:00']],
      sun: [],
    });
    expect((await owner.get('/settings')).body).toContain('value="09:00-13:00, 14:00-18:00"');
    expect(flash(await owner.post('/settings', { ...base, hours_tue: 'nine to five' }))).toContain('Tuesday: write hours like');
    await owner.post('/settings', { fallbackMessage: 'f', handoverMessage: 'h' });
    const [off] = await withTenant(h.db.sql, a.id, (tx) => tx<{ business_hours: unknown }[]>`select business_hours from alphadome.bot_control_settings`);
    expect(off!.business_hours).toBeNull();
  });
});

describe('conversations', () => {
  it('lists conversations with an unread marker, opens one (read), and searches', async () => {
    const list = await owner.get('/conversations');
    expect(list.body).toContain(`Customer ${a.marker}`);
    expect(list.body).toContain('1 unread');
    const conv = await owner.get(`/conversations/${a.conversationId}`);
    expect(conv.body).toContain(`Hello ${a.marker}`);
    expect((await owner.get('/conversations')).body).not.toContain('1 unread');
    expect((await owner.get('/conversations?q=nothing-like-this')).body).toContain('No conversations match');
    expect((await owner.get(`/conversations?q=${a.marker}`)).body).toContain(`Customer ${a.marker}`);
  });

  it('a reply as a person is stored, queued for the worker in its format, and takes the conversation over', async () => {
    const page = await owner.get(`/conversations/${a.conversationId}`);
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)![1]!;
    const res = await owner.post(`/conversations/${a.conversationId}/reply`, { body: 'Karibu! This is Gideon.', nonce });
    expect(res.statusCode).toBe(303);
    // the same form submitted twice is one message
    await owner.post(`/conversations/${a.conversationId}/reply`, { body: 'Karibu! This is Gideon.', nonce });
    const rows = await withTenant(h.db.sql, a.id, (tx) => tx<{ idempotency_key: string; answer_path: string; status: string; payload: { to: string; text: { body: string } } }[]>`
      select idempotency_key, answer_path, status, payload from alphadome.bot_message_logs where direction = 'outbound'`);
    expect(rows.length).toBe(1);
    expect(rows[0]!.answer_path).toBe('human');
    expect(rows[0]!.status).toBe('queued');
    expect(rows[0]!.payload.text.body).toBe('Karibu! This is Gideon.');
    const [conv] = await withTenant(h.db.sql, a.id, (tx) => tx<{ mode: string }[]>`select mode from alphadome.bot_conversations where id = ${a.conversationId}`);
    expect(conv!.mode).toBe('human');
    const queue = new Queue(queueNames.send, { connection: redisOptionsFromUrl(redisUrl()), prefix: h.prefix });
    try {
      const job = await queue.getJob(sendJobId(a.id, rows[0]!.idempotency_key));
      expect(job?.data).toEqual({ tenantId: a.id, idempotencyKey: rows[0]!.idempotency_key });
      expect(await queue.count()).toBe(1);
    } finally {
      await queue.close();
    }
    const thread = await owner.get(`/conversations/${a.conversationId}`);
    expect(thread.body).toContain('person replying');
    expect(thread.body).toContain('Hand back to the bot');
    expect((await owner.get('/conversations')).body).toContain('person replying');
  });

  it('hands the conversation back to the bot, and can take it over again', async () => {
    await owner.post(`/conversations/${a.conversationId}/handback`);
    const mode = async () =>
      (await withTenant(h.db.sql, a.id, (tx) => tx<{ mode: string }[]>`select mode from alphadome.bot_conversations where id = ${a.conversationId}`))[0]!.mode;
    expect(await mode()).toBe('bot');
    await owner.post(`/conversations/${a.conversationId}/takeover`);
    expect(await mode()).toBe('human');
    expect((await audit('conversation.handback')).length).toBe(1);
  });
});

describe('usage and credentials', () => {
  it('shows usage per day with a chart', async () => {
    const res = await owner.get('/usage');
    expect(res.body).toContain('<svg');
    expect(res.body).toMatch(/<td>\d{4}-\d{2}-\d{2}<\/td><td>3<\/td><td>2<\/td>/);
  });

  it('replaces the token: stored encrypted, status valid, audited, never shown', async () => {
    const token = 'EAAGtesttoken' + 'x'.repeat(60);
    const res = await owner.post('/credentials/token', { token, expiresAt: '2027-01-31' });
    expect(res.statusCode).toBe(303);
    const page = await owner.get('/credentials');
    expect(page.body).not.toContain(token);
    expect(page.body).toContain('valid');
    expect(page.body).toContain('2027-01-31');
    expect(await withTenant(h.db.sql, a.id, (tx) => getSecret(tx, keyring, a.id, 'whatsapp_token'))).toBe(token);
    const entries = await audit('credentials.token_replaced');
    expect(entries.length).toBe(1);
    expect(JSON.stringify(entries)).not.toContain(token);
    const bad = await owner.post('/credentials/token', { token: 'short' });
    expect(flash(bad)).toContain('does not look like');
    // tenant B is untouched
    expect(await withTenant(h.db.sql, b.id, (tx) => getSecret(tx, keyring, b.id, 'whatsapp_token'))).toBeNull();
  });
});

describe('operator pages', () => {
  it('lists tenants, disables and enables one, and shows the audit logs', async () => {
    const ops = new Client(h.app);
    await ops.login(await seedOperator(h.db.sql, 'ops2@alphadome.test'));
    const list = await ops.get('/admin/tenants');
    expect(list.body).toContain('pages-a shop');
    expect(list.body).toContain('pages-b shop');
    await ops.post(`/admin/tenants/${b.id}/disable`);
    await expectAnnounced(b.id);
    expect((await ops.get('/admin/tenants')).body).toContain('>disabled<');
    await ops.post(`/admin/tenants/${b.id}/enable`);
    expect((await ops.get('/admin/tenants')).body).not.toContain('>disabled<');
    expect((await ops.get('/admin/audit')).body).toContain('tenant.disabled');
    expect((await ops.get(`/admin/audit?tenant=${b.id}`)).body).toContain('tenant.enabled');
    expect((await ops.post('/admin/tenants/00000000-0000-0000-0000-000000000000/disable')).statusCode).toBe(404);
  });
});

describe('page weight', () => {
  it('every owner page is under 100 KB with its stylesheet', async () => {
    const css = await owner.get('/style.css');
    expect(css.statusCode).toBe(200);
    const pages = h.app.dashboardRoutes.filter((r) => r.access === 'owner' && r.method === 'GET' && !r.url.startsWith('/api/'));
    for (const r of pages) {
      const id = r.url.startsWith('/faq') ? a.faqId : r.url.startsWith('/replies') ? a.templateId : r.url.startsWith('/catalog') ? a.productId : a.conversationId;
      const url = r.url.replace(':id', id);
      const res = await owner.get(url);
      expect(res.statusCode, url).toBe(200);
      const kb = (Buffer.byteLength(res.body) + Buffer.byteLength(css.body)) / 1024;
      expect(kb, url).toBeLessThan(100);
      expect(res.body, url).not.toContain('<script');
      expect(res.body, url).toContain('name="viewport"');
    }
  });
});

describe('health and metrics', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await h.app.inject('/healthz')).json()).toEqual({ ok: true });
    const ready = await h.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ postgres: true, redis: true });
    const m = await h.app.inject('/metrics');
    expect(m.body).toContain('alphadome_dashboard_http_requests_total');
    expect(m.body).toContain('route="/faq"');
  });
});
