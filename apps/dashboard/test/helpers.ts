import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  addFaq,
  addTemplate,
  addUsage,
  createTenant,
  createUser,
  insertInboundMessage,
  Keyring,
  upsertContactAndConversation,
  withOperator,
  withTenant,
  type Sql,
} from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { buildDashboard, type DashboardDeps } from '../src/app.ts';
import { addImage, addVariant, createProduct } from '../src/data/catalog.ts';

export const PASSWORD = 'correct horse battery staple';
export const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);

export interface SeededTenant {
  id: string;
  slug: string;
  ownerEmail: string;
  faqId: string;
  templateId: string;
  conversationId: string;
  productId: string;
  variantId: string;
  imageId: string;
  /** text that appears only in this tenant's data */
  marker: string;
}

/** A tenant with an owner, one FAQ entry, one canned reply, one conversation and a day of usage. */
export async function seedTenant(sql: Sql, slug: string, phoneNumberId: string): Promise<SeededTenant> {
  const marker = `MARK${slug.toUpperCase().replace(/-/g, '')}${randomBytes(3).toString('hex')}`;
  const tenant = await createTenant(sql, { slug, clientName: `${slug} shop`, phoneNumberId });
  const ownerEmail = `owner@${slug}.test`;
  await withOperator(sql, (tx) => createUser(tx, { email: ownerEmail, role: 'owner', tenantId: tenant.id, password: PASSWORD }));
  const ids = await withTenant(sql, tenant.id, async (tx) => {
    const faq = await addFaq(tx, tenant.id, { question: `When do you open? ${marker}`, answer: `At nine. ${marker}` });
    const tpl = await addTemplate(tx, tenant.id, { name: 'hours', triggers: 'hours, open', body: `Open 9-5 ${marker}` });
    const waId = `2547${Math.floor(10_000_000 + Math.random() * 89_999_999)}`;
    const conv = await upsertContactAndConversation(tx, { tenantId: tenant.id, waId, name: `Customer ${marker}`, at: new Date() });
    await insertInboundMessage(tx, {
      tenantId: tenant.id,
      conversationId: conv.id,
      wamid: `wamid.${randomBytes(8).toString('hex')}`,
      waId,
      messageType: 'text',
      body: `Hello ${marker}`,
      payload: {},
      receivedAt: new Date(),
    });
    await addUsage(tx, tenant.id, { messages_in: 3, messages_out: 2, answers_faq: 2 });
    const product = await createProduct(tx, { sku: `GTR-${slug}`, name: `Guitar ${marker}`, price: 18500, stock: 3, category: 'guitars' });
    const variant = await addVariant(tx, tenant.id, product.id, { name: `Black ${marker}`, sku: `GTR-${slug}-BLK`, stock: 1 });
    const image = await addImage(tx, tenant.id, product.id, `https://img.example/${marker}.jpg`);
    return { faqId: faq.id, templateId: tpl.id, conversationId: conv.id, productId: product.id, variantId: variant!.id, imageId: image!.id };
  });
  return { id: tenant.id, slug, ownerEmail, marker, ...ids };
}

export async function seedOperator(sql: Sql, email = 'ops@alphadome.test'): Promise<string> {
  await withOperator(sql, (tx) => createUser(tx, { email, role: 'operator', password: PASSWORD }));
  return email;
}

export interface Harness {
  db: TestDatabase;
  app: FastifyInstance;
  prefix: string;
  close(): Promise<void>;
}

export async function startHarness(extra: Partial<DashboardDeps> = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const prefix = `tdash${randomBytes(4).toString('hex')}`;
  const app = await buildDashboard({ sql: db.sql, redisUrl: redisUrl(), queuePrefix: prefix, keyring, logger: false, ...extra });
  await app.ready();
  return {
    db,
    app,
    prefix,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/** A cookie-keeping client over app.inject, like a browser without JavaScript. */
export class Client {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(private app: FastifyInstance) {}

  private keep(res: LightMyRequestResponse): void {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m && this.cookies.has('ad_session')) this.csrf = m[1]!;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({ method: 'GET', url, headers: { cookie: this.cookieHeader } });
    this.keep(res);
    return res;
  }

  /** POST a urlencoded form; the session's CSRF token is added unless `csrf: false`. */
  async post(url: string, form: Record<string, string> = {}, opts: { csrf?: boolean } = {}): Promise<LightMyRequestResponse> {
    return this.send('POST', url, form, opts);
  }

  async send(method: string, url: string, form: Record<string, string> = {}, opts: { csrf?: boolean } = {}): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams(opts.csrf === false ? form : { _csrf: this.csrf, ...form }).toString();
    // the token goes in the form and (for the JSON API, which reads only the header) in x-csrf-token
    const res = await this.app.inject({
      method: method as 'POST',
      url,
      headers: {
        cookie: this.cookieHeader,
        'content-type': 'application/x-www-form-urlencoded',
        ...(opts.csrf === false ? {} : { 'x-csrf-token': this.csrf }),
      },
      payload: body,
    });
    this.keep(res);
    return res;
  }

  /** A JSON API call: a JSON body when given, the CSRF header unless `csrf: false`. */
  async json(method: string, url: string, body?: unknown, opts: { csrf?: boolean } = {}): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { cookie: this.cookieHeader, accept: 'application/json' };
    if (opts.csrf !== false) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.app.inject({ method: method as 'POST', url, headers, payload: body === undefined ? undefined : JSON.stringify(body) });
  }

  async login(email: string, password = PASSWORD): Promise<LightMyRequestResponse> {
    const form = await this.get('/');
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    const res = await this.post('/login', { _csrf: token, email, password }, { csrf: false });
    if (res.statusCode === 303) {
      const landing = await this.get(res.headers.location as string);
      if (landing.statusCode !== 200) throw new Error(`landing page ${res.headers.location}: ${landing.statusCode}`);
    }
    return res;
  }
}
