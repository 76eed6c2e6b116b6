import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  announceTenantChanged,
  createLogger,
  importCatalog,
  parseProductRowId,
  withTenant,
  type CatalogRowInput,
} from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import { musicShopCatalog } from '@alphadome/testkit/music-catalog';
import { buildWebhookObject, codePointLength, LIMITS, toMetaJson } from '@alphadome/whatsapp';
import { localWallClock } from '../src/conversation/business-hours.ts';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import {
  createTenant,
  dropPrefix,
  keyring,
  messagesOf,
  newCustomer,
  newWamid,
  postWebhook,
  startIngress,
  textWebhook,
  uniquePrefix,
  waitUntil,
  type Ingress,
  type TestTenant,
} from './harness.ts';

/**
 * The catalog in the reply path (issue 8), through the real pipeline: signed webhooks into
 * ingress (a child process), the worker in-process, the Graph simulator recording what the
 * customer receives. Tenant A is the 200-product music shop; tenant B has a small catalog with
 * some of the same names and SKUs, every one marked BMARK: it must never reach A's customers.
 */
let db: TestDatabase;
let graph: GraphSimulator;
let openai: OpenAISimulator;
let ingress: Ingress;
let worker: WorkerHandle;
const prefix = uniquePrefix('cat');
let A: TestTenant;
let B: TestTenant;

const B_CATALOG: CatalogRowInput[] = [
  { sku: 'B-TRUMPET', name: 'Bach TR300 Trumpet BMARK', category: 'Brass', brand: 'Bach', price: 90000, stock: 2, imageUrl: 'https://images.example.com/b/trumpet.jpg' },
  { sku: 'AG-F310', name: 'Yamaha F310 Guitar BMARK', category: 'Acoustic Guitars', brand: 'Yamaha', price: 100, stock: 1, imageUrl: 'https://images.example.com/b/f310.jpg' },
  { sku: 'DP-P45', name: 'Yamaha P-45 Digital Piano BMARK', category: 'Digital Pianos', brand: 'Yamaha', price: 1, stock: 9, imageUrl: 'https://images.example.com/b/p45.jpg' },
  { sku: 'DR-DJEMBE', name: 'Djembe BMARK', category: 'Drums', brand: 'Local', price: 2000, stock: 5 },
];

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator();
  openai = await startOpenAISimulator();
  A = await createTenant(db.sql, {
    slug: 'kassangas',
    name: 'Kassangas Music Shop',
    phoneNumberId: '106540352242922',
    systemPrompt: 'You are the Kassangas Music Shop assistant.',
    faq: [
      { question: 'Do you deliver to Mombasa?', answer: 'Yes, delivery to Mombasa takes 2 days. A-DELIVERY' },
      { question: 'Do you repair guitars?', answer: 'Yes, guitar repairs start at KES 1,500. A-REPAIR' },
    ],
    canned: [{ name: 'greeting', triggers: ['hi', 'hello'], body: 'Welcome to Kassangas! A-CANNED' }],
  });
  B = await createTenant(db.sql, { slug: 'b-music', name: 'Bee Music', phoneNumberId: '206540352242933' });
  await withTenant(db.sql, A.id, (tx) => importCatalog(tx, musicShopCatalog(200, 1)));
  await withTenant(db.sql, B.id, (tx) => importCatalog(tx, B_CATALOG));
  await db.sql`analyze alphadome.bot_products`;
  ingress = await startIngress({ databaseUrl: db.url, prefix });
  worker = await startWorker({
    sql: db.sql,
    redisUrl: redisUrl(),
    prefix,
    keyring,
    graphApiBaseUrl: graph.url,
    openaiBaseUrl: openai.baseURL,
    openaiModel: 'gpt-4o-mini',
    concurrency: 16,
    // contexts (and the catalog memo) cached: the invalidation test depends on it
    contextTtlMs: 60_000,
    retry: { retryBaseMs: 100, replyAttempts: 3, sendAttempts: 4 },
    logger: createLogger('catalog-test', process.env.LOG_LEVEL ?? 'silent'),
  });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await ingress?.stop();
  await graph?.close();
  await openai?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

type Sent = ReturnType<GraphSimulator['sent']>[number]['body'];
interface Row {
  id: string;
  title: string;
  description?: string;
}

const sendsTo = (to: string) => graph.sent().filter((r) => r.body.to === to);

async function say(t: TestTenant, from: string, text: string): Promise<string> {
  const { raw, wamid } = textWebhook(t, from, text);
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  return wamid;
}

async function tap(t: TestTenant, from: string, kind: 'list_reply' | 'button_reply', reply: { id: string; title: string }): Promise<string> {
  const wamid = newWamid();
  const raw = toMetaJson(
    buildWebhookObject({
      phoneNumberId: t.phoneNumberId,
      displayPhoneNumber: t.displayPhone.replace(/\D/g, ''),
      contacts: [{ profile: { name: 'Customer' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: 'interactive', interactive: { type: kind, [kind]: reply } }],
    }),
  );
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  return wamid;
}

/** Ask and wait for the one reply the customer receives. */
async function ask(t: TestTenant, text: string, from = newCustomer()): Promise<{ from: string; body: Sent; wamid: string }> {
  const before = sendsTo(from).length;
  const wamid = await say(t, from, text);
  await graph.waitFor(() => sendsTo(from).length > before, 20_000);
  return { from, body: sendsTo(from)[before]!.body, wamid };
}

const listRows = (b: Sent): Row[] =>
  b.type === 'interactive' && b.interactive?.['type'] === 'list'
    ? (b.interactive['action'].sections as { rows: Row[] }[]).flatMap((s) => s.rows)
    : [];
const caption = (b: Sent): string => ((b['image'] as { caption?: string } | undefined)?.caption ?? b.text?.body ?? '');
const priceOf = (s: string | undefined) => Number(/KES ([\d,]+)/.exec(s ?? '')?.[1]?.replace(/,/g, '') ?? NaN);

/** Meta's limits on what the simulator received, and a product row id on every row. */
function checkList(b: Sent): Row[] {
  expect(b.type).toBe('interactive');
  expect(b.interactive?.['type']).toBe('list');
  const rows = listRows(b);
  expect(rows.length).toBeGreaterThan(1);
  expect(rows.length).toBeLessThanOrEqual(LIMITS.listRows);
  for (const r of rows) {
    expect(codePointLength(r.title)).toBeLessThanOrEqual(24);
    expect(codePointLength(r.description ?? '')).toBeLessThanOrEqual(72);
    expect(r.description).toMatch(/KES [\d,]+/);
    expect(parseProductRowId(r.id)).not.toBeNull();
  }
  return rows;
}

function checkImage(b: Sent): string {
  expect(b.type).toBe('image');
  const image = b['image'] as { link?: string; caption?: string };
  expect(image.link).toMatch(/^https:\/\/images\.example\.com\//);
  expect(image.caption).toMatch(/KES [\d,]+/);
  expect(codePointLength(image.caption ?? '')).toBeLessThanOrEqual(LIMITS.mediaCaption);
  return image.caption ?? '';
}

interface Case {
  q: string;
  kind: 'image' | 'list';
  /** image: the caption; list: some row's title */
  name?: RegExp;
  /** list: the description (… · category) of each of the first `top` rows */
  rows?: RegExp;
  top?: number;
  /** list: every row's price at most / at least */
  max?: number;
  min?: number;
  check?: (b: Sent) => void | Promise<void>;
}

const guitars = /Guitars$/;
const CASES: Case[] = [
  // the questions
  { q: 'do you have guitars?', kind: 'list', rows: guitars },
  { q: 'gitar', kind: 'list', rows: guitars },
  {
    q: 'cheapest keyboard',
    kind: 'image',
    name: /Keyboard/,
    check: async (b) => {
      const [cheapest] = await withTenant(db.sql, A.id, (tx) =>
        tx<{ name: string; price: string }[]>`select name, price from alphadome.bot_products where category = 'Keyboards' order by price limit 1`);
      expect(caption(b)).toContain(cheapest!.name);
      expect(priceOf(caption(b))).toBe(Number(cheapest!.price));
    },
  },
  { q: 'guitars under 20000', kind: 'list', rows: guitars, max: 20000, name: /Yamaha F310/ },
  { q: 'is the Yamaha P-45 available', kind: 'image', name: /Yamaha P-45 Digital Piano[\s\S]*KES 75,000[\s\S]*In stock \(3\)/ },
  { q: 'bei ya gitaa', kind: 'list', rows: guitars },
  // more of our own: English, plurals, misspellings, model numbers
  { q: 'How much is the Shure SM58?', kind: 'image', name: /Shure SM58[\s\S]*KES 18,000/ },
  { q: 'sm 58 mic', kind: 'image', name: /Shure SM58/ },
  { q: 'microphones', kind: 'list', rows: /Microphones$/ },
  { q: 'keybord', kind: 'list', rows: /Keyboards$/ },
  { q: 'electric guitar', kind: 'list', rows: /Electric Guitars$/, top: 5 },
  { q: 'acoustic gitars', kind: 'list', rows: /Acoustic Guitars$/, top: 5 },
  { q: 'bass guitar', kind: 'list', rows: /Bass Guitars$/, top: 3 },
  { q: 'ukelele', kind: 'list', rows: /Ukuleles$/ },
  { q: 'Do you sell violins?', kind: 'list', rows: /Violins$/ },
  { q: 'do you have a capo', kind: 'image', name: /Kyser Quick-Change Guitar Capo/ },
  { q: 'super slinky', kind: 'image', name: /Ernie Ball Regular Slinky[\s\S]*Super Slinky 9-42/ },
  { q: 'most expensive electric guitar', kind: 'image', name: /Gibson Les Paul Standard[\s\S]*Out of stock/ },
  { q: 'amplifier between 5000 and 10000', kind: 'list', rows: /Amplifiers$/, min: 5000, max: 10000 },
  { q: 'sustain pedal for keyboard', kind: 'image', name: /Yamaha FC5 Sustain Pedal/ },
  { q: 'Roland FP-10 in stock?', kind: 'image', name: /Roland FP-10[\s\S]*Out of stock/ },
  { q: 'Les Paul', kind: 'list', name: /Gibson Les Paul/ },
  { q: 'casio keyboard under 25k', kind: 'list', rows: /Keyboards$/, max: 25000, name: /^Casio/ },
  { q: 'clip on tuner', kind: 'image', name: /Snark SN-5/ },
  { q: 'Katana amp price?', kind: 'image', name: /Boss Katana 50/ },
  { q: 'headphones', kind: 'image', name: /ATH-M20x/ },
  { q: 'recorder for school', kind: 'image', name: /Soprano Recorder/ },
  { q: 'cheapest microphone', kind: 'image', name: /Microphone/ },
  // Swahili
  { q: 'una piano?', kind: 'list', rows: /Digital Pianos$/, top: 5 },
  { q: 'nataka kinanda', kind: 'list', rows: /Keyboards$/, top: 5 },
  { q: 'naomba bei ya ngoma', kind: 'list', rows: /Drum/, top: 3 },
  { q: 'kinanda ya bei nafuu', kind: 'image', name: /Keyboard/ },
  { q: 'gitaa chini ya elfu 20', kind: 'list', rows: guitars, max: 20000 },
  { q: 'Yamaha P-45 iko?', kind: 'image', name: /Yamaha P-45 Digital Piano/ },
  { q: 'mnauza fidla?', kind: 'list', rows: /Violins$/ },
  { q: 'spika', kind: 'image', name: /JBL EON610/ },
];

describe('catalog answers (200-product music shop)', () => {
  const results = new Map<string, { from: string; body: Sent }>();

  beforeAll(async () => {
    // every question from its own customer, all at once
    const answers = await Promise.all(CASES.map((c) => ask(A, c.q)));
    CASES.forEach((c, i) => results.set(c.q, answers[i]!));
  }, 45_000);

  it('has the issue questions and at least 20 more', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(26);
  });

  it.each(CASES)('$q → $kind', async (c) => {
    const { body, from } = results.get(c.q)!;
    if (c.kind === 'image') {
      const text = checkImage(body);
      if (c.name) expect(text).toMatch(c.name);
    } else {
      const rows = checkList(body);
      if (c.rows) for (const r of rows.slice(0, c.top ?? rows.length)) expect(r.description, `${c.q}: ${r.title}`).toMatch(c.rows);
      if (c.name) expect(rows.some((r) => c.name!.test(r.title)), `${c.q}: ${rows.map((r) => r.title).join(', ')}`).toBe(true);
      if (c.max !== undefined) for (const r of rows) expect(priceOf(r.description)).toBeLessThanOrEqual(c.max);
      if (c.min !== undefined) for (const r of rows) expect(priceOf(r.description)).toBeGreaterThanOrEqual(c.min);
    }
    await c.check?.(body);
    // never tenant B's catalog; stored as a catalog answer, quoting the question
    expect(JSON.stringify(body)).not.toMatch(/BMARK|images\.example\.com\/b\//);
    expect(body.context?.message_id).toMatch(/^wamid\./);
    const out = (await messagesOf(db.sql, A.id, from)).filter((m) => m.direction === 'outbound');
    expect(out.map((m) => m.answer_path)).toEqual(['catalog']);
    expect(out[0]!.body).toBeTruthy();
  });

  it('counts catalog answers in the usage', async () => {
    const [u] = await withTenant(db.sql, A.id, (tx) => tx<{ n: number }[]>`select sum(answers_catalog)::int as n from alphadome.bot_usage_daily`);
    expect(u!.n).toBeGreaterThanOrEqual(CASES.length);
  });
});

describe('taps', () => {
  it('a list_reply tap on a row returns that product', async () => {
    const { from, body } = await ask(A, 'do you have guitars?');
    const rows = checkList(body);
    const row = rows[2]!;
    const productId = parseProductRowId(row.id)!;
    const [product] = await withTenant(db.sql, A.id, (tx) => tx<{ name: string; price: string }[]>`select name, price from alphadome.bot_products where id = ${productId}`);
    await tap(A, from, 'list_reply', { id: row.id, title: row.title });
    await graph.waitFor(() => sendsTo(from).length >= 2, 20_000);
    const details = sendsTo(from)[1]!.body;
    const text = checkImage(details);
    expect(text).toContain(product!.name);
    expect(priceOf(text)).toBe(Number(product!.price));
    const out = (await messagesOf(db.sql, A.id, from)).filter((m) => m.direction === 'outbound');
    expect(out.map((m) => m.answer_path)).toEqual(['catalog', 'catalog']);
  });

  it('the row id decides, not the title: two rows cut to the same title open different products', async () => {
    const { from, body } = await ask(A, 'guitar strings');
    const rows = checkList(body).filter((r) => r.title.startsWith('Ernie Ball Regular Slin'));
    expect(rows.length).toBe(2);
    expect(rows[0]!.title).toBe(rows[1]!.title);
    const bass = rows.find((r) => priceOf(r.description) === 3800)!;
    await tap(A, from, 'list_reply', { id: bass.id, title: bass.title });
    await graph.waitFor(() => sendsTo(from).length >= 2, 20_000);
    expect(checkImage(sendsTo(from)[1]!.body)).toMatch(/^\*Ernie Ball Regular Slinky Bass Strings\*\nKES 3,800/);
  });

  it('a button_reply with a product id opens it too', async () => {
    const [p] = await withTenant(db.sql, A.id, (tx) => tx<{ id: string }[]>`select id from alphadome.bot_products where sku = 'MIC-SM58'`);
    const from = newCustomer();
    await tap(A, from, 'button_reply', { id: `product:${p!.id}`, title: 'More' });
    await graph.waitFor(() => sendsTo(from).length >= 1, 20_000);
    expect(checkImage(sendsTo(from)[0]!.body)).toMatch(/Shure SM58 Vocal Microphone/);
  });

  it("a tap on another tenant's product id finds nothing and goes the normal way", async () => {
    const [bProduct] = await withTenant(db.sql, B.id, (tx) => tx<{ id: string }[]>`select id from alphadome.bot_products where sku = 'B-TRUMPET'`);
    const from = newCustomer();
    await tap(A, from, 'list_reply', { id: `product:${bProduct!.id}`, title: 'Shiny horn' });
    await graph.waitFor(() => sendsTo(from).length >= 1, 20_000);
    const body = sendsTo(from)[0]!.body;
    expect(JSON.stringify(body)).not.toMatch(/BMARK|Trumpet/);
    await waitUntil(async () => (await messagesOf(db.sql, A.id, from)).some((m) => m.direction === 'outbound'), 10_000, 'outbound row');
    const out = (await messagesOf(db.sql, A.id, from)).filter((m) => m.direction === 'outbound');
    expect(out[0]!.answer_path).not.toBe('catalog');
  });
});

describe('tenant isolation', () => {
  it("tenant B's customers get B's products only; A's never get B's", async () => {
    const [guitar, piano, trumpet, aTrumpet] = await Promise.all([
      ask(B, 'do you have guitars?'),
      ask(B, 'is the Yamaha P-45 available'),
      ask(B, 'trumpet'),
      ask(A, 'do you have a trumpet?'),
    ]);
    expect(checkImage(guitar.body)).toMatch(/Yamaha F310 Guitar BMARK[\s\S]*KES 100\b/);
    expect(checkImage(piano.body)).toMatch(/Yamaha P-45 Digital Piano BMARK/);
    expect((piano.body['image'] as { link: string }).link).toBe('https://images.example.com/b/p45.jpg');
    expect(checkImage(trumpet.body)).toMatch(/Bach TR300 Trumpet BMARK/);
    // A has no trumpet: no catalog answer, and B's trumpet is nowhere in A's reply or LLM request
    expect(JSON.stringify(aTrumpet.body)).not.toMatch(/BMARK|Bach/);
    const llm = openai.requests.filter((r) => JSON.stringify(r.messages).includes('do you have a trumpet?'));
    expect(JSON.stringify(llm)).not.toMatch(/BMARK|Bach/);
    // B's djembe has no picture: the details go as text
    const djembe = await ask(B, 'djembe');
    expect(djembe.body.type).toBe('text');
    expect(djembe.body.text?.body).toMatch(/Djembe BMARK[\s\S]*KES 2,000/);
  });
});

describe('the reply order around the catalog', () => {
  it('canned before catalog; a clear FAQ answer before products that match only part of the question', async () => {
    const [hi, repair, mombasa] = await Promise.all([ask(A, 'hi'), ask(A, 'Do you repair guitars?'), ask(A, 'Do you deliver to Mombasa?')]);
    expect(hi.body.text?.body).toContain('A-CANNED');
    expect(repair.body.text?.body).toContain('A-REPAIR');
    expect(mombasa.body.text?.body).toContain('A-DELIVERY');
  });

  it('nothing found → the LLM gets the closest products as grounding, inside the business data', async () => {
    const before = openai.requests.length;
    const q = 'Can I pay for a piano in monthly instalments through my sacco?';
    const { from } = await ask(A, q);
    const req = openai.requests.slice(before).find((r) => JSON.stringify(r.messages).includes('monthly instalments'));
    expect(req).toBeDefined();
    const system = String(req!.messages[0]!.content);
    const data = system.slice(system.indexOf('BEGIN BUSINESS DATA'), system.indexOf('END BUSINESS DATA'));
    expect(data).toMatch(/PRODUCTS \(from the catalog/);
    const lines = data.split('\n').filter((l) => l.startsWith('- '));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines.join('\n')).toMatch(/Piano \| KES [\d,]+ \| (In stock|Out of stock)/);
    expect(data).not.toMatch(/BMARK/);
    // the customer's words stay out of the system message
    expect(system).not.toContain('sacco');
    const out = (await messagesOf(db.sql, A.id, from)).filter((m) => m.direction === 'outbound');
    expect(out[0]!.answer_path).not.toBe('catalog');

    // a price limit nothing meets: the closest products, without the limit
    const b2 = openai.requests.length;
    await ask(A, 'digital piano below 20k');
    const req2 = openai.requests.slice(b2).find((r) => JSON.stringify(r.messages).includes('digital piano below 20k'));
    expect(String(req2!.messages[0]!.content)).toMatch(/- [^\n]*Digital Piano \| KES/);

    // nothing close at all: no products section
    const b3 = openai.requests.length;
    await ask(A, 'what time do you open on sundays?');
    const req3 = openai.requests.slice(b3).find((r) => JSON.stringify(r.messages).includes('sundays'));
    expect(String(req3!.messages[0]!.content)).not.toMatch(/PRODUCTS/);
  });

  it('outside business hours the catalog still answers (like the FAQ), with the away message first', async () => {
    const local = localWallClock(new Date(), 'Africa/Nairobi');
    const at = (h: number) => new Date(local.getTime() - h * 3600_000).toISOString().slice(11, 16);
    const closed = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [[at(4), at(3)]]]));
    await withTenant(db.sql, A.id, (tx) => tx`update alphadome.bot_control_settings set away_message = 'We are closed now. A-AWAY', business_hours = ${tx.json(closed as never)}`);
    worker.contexts.invalidate(A.id); // the away message is part of the cached context
    try {
      const from = newCustomer();
      const first = await ask(A, 'yamaha p45', from);
      expect(checkImage(first.body)).toMatch(/^We are closed now\. A-AWAY\n\n\*Yamaha P-45 Digital Piano\*/);
      const second = await ask(A, 'do you have guitars?', from);
      const rows = checkList(second.body);
      expect(rows.length).toBe(10);
      expect(second.body.interactive?.['body'].text).not.toContain('A-AWAY');
    } finally {
      await withTenant(db.sql, A.id, (tx) => tx`update alphadome.bot_control_settings set business_hours = null`);
    }
  });
});

describe('catalog cache', () => {
  it('search results are cached per tenant and dropped when the tenant changes', async () => {
    const first = await ask(A, 'djembe');
    expect(checkImage(first.body)).toMatch(/African Djembe Drum[\s\S]*In stock \(9\)/);
    expect(worker.contexts.memoSize(A.id)).toBeGreaterThan(0);
    // a change nobody announced: the cached answer stands (within the TTL)
    await withTenant(db.sql, A.id, (tx) => tx`update alphadome.bot_products set stock = 0 where sku = 'DR-DJEMBE'`);
    const cached = await ask(A, 'Djembe?');
    expect(caption(cached.body)).toMatch(/In stock \(9\)/);
    // the dashboard / CLI announce the change: the memo goes with the context
    await announceTenantChanged(redisUrl(), prefix, A.id);
    await waitUntil(() => worker.contexts.memoSize(A.id) === 0, 5_000, 'the catalog memo to be dropped');
    const fresh = await ask(A, 'djembe');
    expect(caption(fresh.body)).toMatch(/African Djembe Drum[\s\S]*Out of stock/);
  });
});
