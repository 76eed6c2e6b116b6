import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '@alphadome/tenant-core';
import type { RouteInfo } from '../src/app.ts';
import { Client, seedOperator, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

/**
 * Generated from the route table (collected by the app's onRoute hook): a route added later is
 * covered without touching this file. Every route's access must be one of the four kinds.
 */
let h: Harness;
let a: SeededTenant;
let b: SeededTenant;
let routes: RouteInfo[];
let ownerA: Client;
let operator: Client;

const isState = (r: RouteInfo) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method);
const label = (r: RouteInfo) => `${r.method} ${r.url}`;

/** Fill a route's path parameters with the given tenant's ids of the matching kind (pages and /api alike). */
function fill(url: string, t: SeededTenant): string {
  const path = url.replace(/^\/api\//, '/');
  const id = /^\/faq\//.test(path)
    ? t.faqId
    : path.startsWith('/replies/')
      ? t.templateId
      : path.startsWith('/conversations/')
        ? t.conversationId
        : path.startsWith('/catalog/') || path.startsWith('/products/')
          ? t.productId
          : url.startsWith('/admin/tenants/')
            ? t.id
            : 'x';
  return url
    .replace(/:id\b/g, id)
    .replace(/:variantId\b/g, t.variantId)
    .replace(/:imageId\b/g, t.imageId)
    .replace(/:[A-Za-z]+/g, 'x')
    .replace(/\*/g, 'x');
}

// fields every form might want, so a POST with a foreign id would change something if accepted
const anyForm = {
  question: 'Changed?',
  answer: 'Changed!',
  name: 'hours',
  triggers: 'changed',
  body: 'changed body',
  nonce: 'abcdefghijkl',
  enabled: '0',
  fallbackMessage: 'x',
  handoverMessage: 'y',
  token: 'EAAB'.padEnd(40, 'x'),
  sku: 'CHANGED-1',
  price: '1',
  stock: '0',
  url: 'https://img.example/changed.jpg',
};

beforeAll(async () => {
  h = await startHarness();
  a = await seedTenant(h.db.sql, 'acl-a', '2000000001');
  b = await seedTenant(h.db.sql, 'acl-b', '2000000002');
  const ops = await seedOperator(h.db.sql);
  routes = h.app.dashboardRoutes;
  ownerA = new Client(h.app);
  await ownerA.login(a.ownerEmail);
  operator = new Client(h.app);
  await operator.login(ops);
});
afterAll(async () => h?.close());

describe('the route table', () => {
  it('has the owner, operator and Bull Board routes, each with a known access kind', () => {
    const urls = routes.map(label);
    for (const expected of [
      'GET /faq', 'POST /faq/:id', 'POST /conversations/:id/reply', 'GET /admin/tenants', 'POST /admin/tenants', 'GET /admin/queues',
      'GET /catalog', 'POST /catalog/:id/variants/:variantId', 'GET /api/faq', 'PATCH /api/faq/:id', 'DELETE /api/faq/:id',
      'GET /api/conversations/:id/messages', 'POST /api/bot', 'GET /api/usage', 'GET /api/products', 'POST /api/products',
    ]) {
      expect(urls).toContain(expected);
    }
    for (const r of routes) expect(['public', 'user', 'owner', 'operator']).toContain(r.access);
    // the only public routes: login, health, metrics, stylesheet
    expect(routes.filter((r) => r.access === 'public').map(label).sort()).toEqual(
      ['GET /', 'GET /healthz', 'GET /metrics', 'GET /readyz', 'GET /style.css', 'POST /login'].sort(),
    );
  });
});

describe('logged out', () => {
  it('every non-public route redirects to the login page (or answers 401)', async () => {
    const failures: string[] = [];
    for (const r of routes.filter((r) => r.access !== 'public')) {
      const res = await h.app.inject({ method: r.method as 'GET', url: fill(r.url, a), payload: isState(r) ? anyForm : undefined });
      const ok = (res.statusCode === 302 && res.headers.location === '/') || res.statusCode === 401;
      if (!ok) failures.push(`${label(r)} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });
});

describe("tenant A's owner", () => {
  it('gets 403 from every operator-only route (Bull Board included)', async () => {
    const failures: string[] = [];
    for (const r of routes.filter((r) => r.access === 'operator')) {
      const res = isState(r) ? await ownerA.send(r.method, fill(r.url, b), anyForm) : await ownerA.get(fill(r.url, b));
      if (res.statusCode !== 403) failures.push(`${label(r)} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });

  it("gets 404 from every owner route given tenant B's ids, and never sees B's data", async () => {
    const withIds = routes.filter((r) => r.access === 'owner' && r.url.includes(':'));
    expect(withIds.length).toBeGreaterThanOrEqual(8);
    const failures: string[] = [];
    for (const r of withIds) {
      const res = isState(r) ? await ownerA.send(r.method, fill(r.url, b), anyForm) : await ownerA.get(fill(r.url, b));
      if (res.statusCode !== 404) failures.push(`${label(r)} → ${res.statusCode}`);
      if (res.body.includes(b.marker)) failures.push(`${label(r)} shows B's data`);
    }
    expect(failures).toEqual([]);
    // and B's rows are as they were
    await withTenant(h.db.sql, b.id, async (tx) => {
      const [faq] = await tx<{ question: string }[]>`select question from alphadome.bot_training_data where id = ${b.faqId}`;
      expect(faq?.question).toContain(b.marker);
      const [tpl] = await tx<{ body: string }[]>`select body from alphadome.bot_templates where id = ${b.templateId}`;
      expect(tpl?.body).toContain(b.marker);
      const [conv] = await tx<{ mode: string }[]>`select mode from alphadome.bot_conversations where id = ${b.conversationId}`;
      expect(conv?.mode).toBe('bot');
      const [product] = await tx<{ name: string; sku: string }[]>`select name, sku from alphadome.bot_products where id = ${b.productId}`;
      expect(product?.name).toContain(b.marker);
      expect(product?.sku).toBe('GTR-acl-b');
      const [variant] = await tx<{ name: string }[]>`select name from alphadome.bot_product_variants where id = ${b.variantId}`;
      expect(variant?.name).toContain(b.marker);
      expect((await tx`select 1 from alphadome.bot_product_images where id = ${b.imageId}`).length).toBe(1);
      const out = await tx`select 1 from alphadome.bot_message_logs where direction = 'outbound'`;
      expect(out.length).toBe(0);
    });
  });

  it("gets 200 from the same GET routes with A's own ids (the 404s above are not blanket)", async () => {
    for (const r of routes.filter((r) => r.access === 'owner' && r.url.includes(':') && r.method === 'GET')) {
      const res = await ownerA.get(fill(r.url, a));
      expect(res.statusCode, label(r)).toBe(200);
      expect(res.body).toContain(a.marker);
    }
  });

  it('gets a 404 page for an unknown URL', async () => {
    expect((await ownerA.get('/no-such-page')).statusCode).toBe(404);
    expect((await h.app.inject('/no-such-page')).statusCode).toBe(404);
  });

  it("never shows B's data on any owner page", async () => {
    for (const r of routes.filter((r) => r.access === 'owner' && !r.url.includes(':') && r.method === 'GET')) {
      const res = await ownerA.get(r.url);
      expect(res.statusCode, label(r)).toBe(200);
      expect(res.body.includes(b.marker), label(r)).toBe(false);
    }
    const search = await ownerA.get(`/faq?q=${encodeURIComponent(b.marker)}`);
    expect(search.body.includes(`At nine. ${b.marker}`)).toBe(false);
  });
});

describe('CSRF', () => {
  it('every state-changing route without the token answers 403', async () => {
    const failures: string[] = [];
    for (const r of routes.filter(isState)) {
      const who = r.access === 'operator' ? operator : ownerA;
      const t = r.access === 'operator' ? b : a;
      const res = r.access === 'public'
        ? await new Client(h.app).post(fill(r.url, t), { email: a.ownerEmail, password: 'whatever' }, { csrf: false })
        : await who.send(r.method, fill(r.url, t), anyForm, { csrf: false });
      if (res.statusCode !== 403) failures.push(`${label(r)} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
    // nothing changed: A's bot is still on, A's FAQ entry is intact, the operator did not disable B
    expect((await ownerA.get('/home')).body).toContain('>ON<');
    expect((await ownerA.get(`/faq/${a.faqId}`)).body).toContain(a.marker);
    expect((await operator.get('/admin/tenants')).body).not.toContain('>disabled<');
  });
});

describe('an operator', () => {
  it('gets 403 from owner pages (they belong to one tenant)', async () => {
    for (const r of routes.filter((r) => r.access === 'owner' && r.method === 'GET')) {
      expect((await operator.get(fill(r.url, a))).statusCode, label(r)).toBe(403);
    }
  });

  it('reaches Bull Board', async () => {
    const res = await operator.get('/admin/queues');
    expect(res.statusCode).toBe(200);
    const api = await operator.get('/admin/queues/api/queues');
    expect(api.statusCode).toBe(200);
    expect(api.body).toContain('send');
  });

  it("can use Bull Board's own buttons: same-origin calls stand in for the form token", async () => {
    const pause = await h.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/pause',
      headers: { cookie: operator.cookieHeader, 'sec-fetch-site': 'same-origin' },
    });
    expect(pause.statusCode).toBeLessThan(300);
    const crossSite = await h.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/resume',
      headers: { cookie: operator.cookieHeader, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    });
    expect(crossSite.statusCode).toBe(403);
    const resume = await h.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/resume',
      headers: { cookie: operator.cookieHeader, origin: 'http://localhost:80', host: 'localhost:80' },
    });
    expect(resume.statusCode).toBeLessThan(300);
  });
});
