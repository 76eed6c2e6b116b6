import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { tenantChangedChannel, withTenant } from '@alphadome/tenant-core';
import { redisUrl } from '@alphadome/testkit/database';
import { Client, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

let h: Harness;
let a: SeededTenant;
let b: SeededTenant;
let owner: Client;
let sub: Redis;
const announced: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  a = await seedTenant(h.db.sql, 'cat-a', '4000000001');
  b = await seedTenant(h.db.sql, 'cat-b', '4000000002');
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

const productCount = (tenantId: string) =>
  withTenant(h.db.sql, tenantId, async (tx) => (await tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_products`)[0]!.n);

describe('catalog pages', () => {
  it('adds a product, edits it, marks it out of stock, manages options and pictures, deletes it; all audited and announced', async () => {
    expect((await owner.get('/home')).body).toContain('href="/catalog"');
    const form = await owner.get('/catalog/new');
    expect(form.statusCode).toBe(200);
    const add = await owner.post('/catalog', { name: 'Yamaha P-45 Digital Piano', sku: 'YAM-P45', price: '65,000', stock: '2', category: 'keyboards', brand: 'Yamaha', active: '1' });
    expect(add.statusCode).toBe(303);
    const id = /^\/catalog\/([0-9a-f-]{36})/.exec(String(add.headers.location))![1]!;
    await expectAnnounced(a.id);

    const list = await owner.get('/catalog');
    expect(list.body).toContain('Yamaha P-45 Digital Piano');
    expect(list.body).toContain('KES 65,000');
    expect(list.body).toContain('In stock (2)');
    // search goes through the bot's own catalog search (misspelt, as customers write)
    const search = await owner.get('/catalog?q=yamaha+piano');
    expect(search.body).toContain('Yamaha P-45 Digital Piano');
    expect(search.body).not.toContain(`Guitar ${a.marker}`);

    const save = await owner.post(`/catalog/${id}`, { name: 'Yamaha P-45', sku: 'YAM-P45', price: '64000', stock: '0', currency: 'kes', description: 'Weighted keys', image_url: '', active: '1' });
    expect(save.statusCode).toBe(303);
    expect(flash(save)).toBe('Product saved.');
    const page = await owner.get(`/catalog/${id}`);
    expect(page.body).toContain('KES 64,000');
    expect(page.body).toContain('out of stock');
    expect((await owner.get('/catalog')).body).toMatch(/Yamaha P-45<\/strong><\/a> <span class="badge off">out of stock/);

    expect(flash(await owner.post(`/catalog/${id}/variants`, { name: 'Black', sku: 'YAM-P45-B', price: '', stock: '1' }))).toBe('Option added.');
    const vId = /action="\/catalog\/[0-9a-f-]{36}\/variants\/([0-9a-f-]{36})"/.exec((await owner.get(`/catalog/${id}`)).body)![1]!;
    expect(flash(await owner.post(`/catalog/${id}/variants/${vId}`, { name: 'White', sku: 'YAM-P45-W', price: '66000', stock: '0' }))).toBe('Option saved.');
    const withVariant = await owner.get(`/catalog/${id}`);
    expect(withVariant.body).toContain('value="White"');
    expect(withVariant.body).toContain('value="66000"');
    // the variant's name is searchable at once (the trigger keeps variant_text in step)
    expect((await owner.get('/catalog?q=yamaha+white')).body).toContain('Yamaha P-45');

    expect(flash(await owner.post(`/catalog/${id}/images`, { url: 'https://img.example/p45.jpg' }))).toBe('Picture added.');
    const withImage = await owner.get(`/catalog/${id}`);
    expect(withImage.body).toContain('https://img.example/p45.jpg');
    expect(withImage.body).toContain('value="https://img.example/p45.jpg"'); // became the main picture
    const imgId = /action="\/catalog\/[0-9a-f-]{36}\/images\/([0-9a-f-]{36})\/delete"/.exec(withImage.body)![1]!;
    expect(flash(await owner.post(`/catalog/${id}/images/${imgId}/delete`))).toBe('Picture deleted.');
    expect((await owner.get(`/catalog/${id}`)).body).not.toContain('https://img.example/p45.jpg');

    expect(flash(await owner.post(`/catalog/${id}/variants/${vId}/delete`))).toBe('Option deleted.');
    expect(flash(await owner.post(`/catalog/${id}/delete`))).toBe('Product deleted.');
    expect((await owner.get(`/catalog/${id}`)).statusCode).toBe(404);

    for (const action of [
      'catalog.product_added', 'catalog.product_updated', 'catalog.variant_added', 'catalog.variant_updated', 'catalog.variant_deleted',
      'catalog.image_added', 'catalog.image_deleted', 'catalog.product_deleted',
    ]) {
      expect((await audit(action)).length, action).toBe(1);
    }
    await expectAnnounced(a.id);
  });

  it('shows validation problems and duplicate SKUs as messages', async () => {
    const bad = await owner.post('/catalog', { name: 'X', sku: 'has space', price: 'cheap' });
    expect(bad.statusCode).toBe(303);
    expect(flash(bad)).toMatch(/sku: must not contain spaces.*price: must be a number/);
    const dup = await owner.post('/catalog', { name: 'Another', sku: `GTR-cat-a`, price: '1' });
    expect(flash(dup)).toContain('exists already');
    // B's SKU is free for A: SKUs are unique per tenant
    expect((await owner.post('/catalog', { name: 'Same code as B', sku: 'GTR-cat-b', price: '1' })).statusCode).toBe(303);
  });

  it("does not mix another tenant's variant or picture into A's product", async () => {
    expect((await owner.post(`/catalog/${a.productId}/variants/${b.variantId}`, { name: 'hijack' })).statusCode).toBe(404);
    expect((await owner.post(`/catalog/${a.productId}/images/${b.imageId}/delete`)).statusCode).toBe(404);
    expect((await owner.post(`/catalog/${b.productId}/variants`, { name: 'hijack' })).statusCode).toBe(404);
  });

  it('imports CSV with options; a bad row names FILE:LINE and imports nothing', async () => {
    const before = await productCount(a.id);
    const badCsv = 'sku,name,price,stock\nKB-1,Casio CT-S300,15000,4\nKB-2,Roland GO:KEYS,lots,1\n';
    const bad = await owner.post('/catalog/import', { csv: badCsv });
    expect(flash(bad)).toMatch(/^pasted\.csv:3: price/);
    const back = await owner.get(String(bad.headers.location));
    expect(back.body).toContain('pasted.csv:3:');
    expect(await productCount(a.id)).toBe(before);

    const csv = [
      'sku,name,category,price,stock,variant_name,variant_sku,variant_stock',
      'KB-1,Casio CT-S300,keyboards,"15,000",4,,,',
      'CAPO-1,Guitar capo,accessories,800,0,Black,CAPO-1-B,0',
      'CAPO-1,,,,,Silver,CAPO-1-S,5',
    ].join('\n');
    const ok = await owner.post('/catalog/import', { csv });
    expect(flash(ok)).toBe('Imported: 2 added, 0 updated, 2 options, 0 pictures.');
    expect(await productCount(a.id)).toBe(before + 2);
    const list = await owner.get('/catalog');
    expect(list.body).toContain('Casio CT-S300');
    expect(list.body).toMatch(/Guitar capo<\/strong><\/a> <span class="badge off">out of stock/);
    expect((await audit('catalog.imported')).length).toBe(1);
  });

  it('imports an uploaded JSON file', async () => {
    const boundary = '----adcat' + Date.now();
    const part = (name: string, value: string, filename?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n\r\n${value}\r\n`;
    const json = JSON.stringify([{ sku: 'DRM-1', name: 'Drum sticks 5A', price: 1200, images: ['https://img.example/sticks.jpg'] }]);
    const res = await h.app.inject({
      method: 'POST',
      url: '/catalog/import',
      headers: { cookie: owner.cookieHeader, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: part('_csrf', owner.csrf) + part('csv', '') + part('file', json, 'catalog.json') + `--${boundary}--\r\n`,
    });
    expect(flash(res)).toBe('Imported: 1 added, 0 updated, 0 options, 1 pictures.');
  });

  it('pages a long catalog', async () => {
    await withTenant(h.db.sql, a.id, (tx) =>
      tx`insert into alphadome.bot_products (sku, name, price) select 'BULK-' || g, 'Bulk item ' || lpad(g::text, 3, '0'), 100 from generate_series(1, 60) g`,
    );
    const first = await owner.get('/catalog');
    expect(first.body).toContain('href="/catalog?page=2"');
    const second = await owner.get('/catalog?page=2');
    expect(second.statusCode).toBe(200);
    expect(second.body).toContain('Page 2 of');
  });
});

describe('JSON API', () => {
  it('FAQ: list, add, read, patch, delete', async () => {
    const list = await owner.json('GET', '/api/faq');
    expect(list.statusCode).toBe(200);
    expect(list.headers['content-type']).toMatch(/application\/json/);
    expect(list.json().faqs.some((f: { question: string }) => f.question.includes(a.marker))).toBe(true);
    expect(list.body).not.toContain(b.marker);

    const add = await owner.json('POST', '/api/faq', { question: 'Do you deliver to Mombasa?', answer: 'Yes, by courier.' });
    expect(add.statusCode).toBe(201);
    const id = add.json().faq.id as string;
    await expectAnnounced(a.id);
    expect((await owner.json('GET', `/api/faq/${id}`)).json().faq.answer).toBe('Yes, by courier.');

    const patch = await owner.json('PATCH', `/api/faq/${id}`, { answer: 'Yes, KES 500 by courier.' });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().faq).toMatchObject({ question: 'Do you deliver to Mombasa?', answer: 'Yes, KES 500 by courier.', isActive: true });
    expect((await owner.json('GET', '/api/faq?q=mombasa')).json().faqs).toHaveLength(1);

    expect((await owner.json('DELETE', `/api/faq/${id}`)).statusCode).toBe(204);
    expect((await owner.json('GET', `/api/faq/${id}`)).statusCode).toBe(404);
    expect((await audit('faq.added')).length).toBeGreaterThanOrEqual(1);
    expect((await audit('faq.deleted')).length).toBe(1);
  });

  it('conversations and their messages', async () => {
    const list = await owner.json('GET', '/api/conversations');
    expect(list.statusCode).toBe(200);
    const convs = list.json().conversations as { id: string }[];
    expect(convs.map((c) => c.id)).toContain(a.conversationId);
    const msgs = await owner.json('GET', `/api/conversations/${a.conversationId}/messages`);
    expect(msgs.statusCode).toBe(200);
    expect(msgs.json().messages[0]).toMatchObject({ direction: 'inbound', body: `Hello ${a.marker}` });
  });

  it('bot switch and usage', async () => {
    const off = await owner.json('POST', '/api/bot', { enabled: false });
    expect(off.statusCode).toBe(200);
    expect(off.json()).toEqual({ enabled: false });
    expect((await owner.get('/home')).body).toContain('>OFF<');
    expect((await owner.json('POST', '/api/bot', { enabled: true })).json()).toEqual({ enabled: true });
    expect((await owner.json('GET', '/api/bot')).json()).toEqual({ enabled: true });
    const usage = await owner.json('GET', '/api/usage?days=7');
    expect(usage.statusCode).toBe(200);
    expect(usage.json().days[0]).toMatchObject({ messages_in: 3, messages_out: 2 });
  });

  it('products: list, search, add, patch, delete', async () => {
    const add = await owner.json('POST', '/api/products', { sku: 'API-1', name: 'Fender Stratocaster', price: 120000, stock: 1, category: 'guitars' });
    expect(add.statusCode).toBe(201);
    const p = add.json().product;
    expect(p).toMatchObject({ sku: 'API-1', price: 120000, currency: 'KES', stock: 1, isActive: true });
    const search = await owner.json('GET', '/api/products?q=stratocaster');
    expect(search.json().products.map((x: { id: string }) => x.id)).toContain(p.id);
    const page = await owner.json('GET', '/api/products?limit=5&page=1');
    expect(page.json().products).toHaveLength(5);
    expect(page.json().total).toBeGreaterThan(5);
    const patch = await owner.json('PATCH', `/api/products/${p.id}`, { stock: 0 });
    expect(patch.json().product).toMatchObject({ stock: 0, price: 120000, name: 'Fender Stratocaster' });
    const detail = await owner.json('GET', `/api/products/${p.id}`);
    expect(detail.json().product).toMatchObject({ variants: [], images: [] });
    expect((await owner.json('DELETE', `/api/products/${p.id}`)).statusCode).toBe(204);
    expect((await owner.json('GET', `/api/products/${p.id}`)).statusCode).toBe(404);
  });

  it('400 with a clear JSON error for bad bodies, params and queries', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/api/faq', { question: '', answer: 'x' }],
      ['POST', '/api/faq', { answer: 'no question' }],
      ['POST', '/api/bot', { enabled: 'yes' }],
      ['POST', '/api/products', { sku: 'A B', name: 'x', price: -1 }],
      ['PATCH', `/api/products/${a.productId}`, { price: 'lots' }],
      ['GET', '/api/faq/not-a-uuid', undefined],
      ['GET', '/api/usage?days=0', undefined],
      ['GET', '/api/conversations?limit=9999', undefined],
    ];
    for (const [method, url, body] of cases) {
      const res = await owner.json(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      const err = res.json().error;
      expect(err.code).toBe('bad_request');
      expect(typeof err.message).toBe('string');
      expect(err.message.length).toBeGreaterThan(3);
    }
    expect((await owner.json('POST', '/api/bot', { enabled: 'yes' })).json().error.message).toContain('enabled');
    // malformed JSON: the same shape
    const broken = await h.app.inject({
      method: 'POST',
      url: '/api/faq',
      headers: { cookie: owner.cookieHeader, 'x-csrf-token': owner.csrf, 'content-type': 'application/json' },
      payload: '{"question":',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.code).toBe('bad_request');
    // a duplicate SKU is an AppError conflict → 409
    const dup = await owner.json('POST', '/api/products', { sku: `GTR-cat-a`, name: 'dup', price: 1 });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('conflict');
    expect((await owner.json('GET', '/api/nope')).json().error.code).toBe('not_found');
  });

  it('CSRF: a state-changing call needs the x-csrf-token header (a token in the body is not enough)', async () => {
    const none = await owner.json('POST', '/api/bot', { enabled: false }, { csrf: false });
    expect(none.statusCode).toBe(403);
    expect(none.json().error.code).toBe('csrf');
    const inBody = await owner.json('POST', '/api/bot', { enabled: false, _csrf: owner.csrf }, { csrf: false });
    expect(inBody.statusCode).toBe(403);
    const wrong = await h.app.inject({
      method: 'DELETE',
      url: `/api/faq/${a.faqId}`,
      headers: { cookie: owner.cookieHeader, 'x-csrf-token': 'x'.repeat(43) },
    });
    expect(wrong.statusCode).toBe(403);
    expect((await owner.json('GET', '/api/bot')).json()).toEqual({ enabled: true });
    expect((await owner.json('GET', `/api/faq/${a.faqId}`)).statusCode).toBe(200);
  });

  it('logged out: 401 JSON', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/api/faq' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });

  it("cross-tenant: B's ids are 404 and B's rows stay as they were", async () => {
    const calls: [string, string, unknown][] = [
      ['GET', `/api/faq/${b.faqId}`, undefined],
      ['PATCH', `/api/faq/${b.faqId}`, { answer: 'hijacked' }],
      ['DELETE', `/api/faq/${b.faqId}`, undefined],
      ['GET', `/api/conversations/${b.conversationId}/messages`, undefined],
      ['GET', `/api/products/${b.productId}`, undefined],
      ['PATCH', `/api/products/${b.productId}`, { stock: 0 }],
      ['DELETE', `/api/products/${b.productId}`, undefined],
    ];
    for (const [method, url, body] of calls) {
      const res = await owner.json(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
      expect(res.body).not.toContain(b.marker);
    }
    await withTenant(h.db.sql, b.id, async (tx) => {
      const [faq] = await tx<{ answer: string }[]>`select answer from alphadome.bot_training_data where id = ${b.faqId}`;
      expect(faq?.answer).toContain(b.marker);
      const [p] = await tx<{ stock: number }[]>`select stock from alphadome.bot_products where id = ${b.productId}`;
      expect(p?.stock).toBe(3);
    });
    const products = await owner.json('GET', `/api/products?q=${encodeURIComponent('guitar')}`);
    expect(products.body).not.toContain(b.marker);
  });
});
