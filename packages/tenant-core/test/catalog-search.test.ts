import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  analyseCatalogQuery,
  catalogReply,
  createTenant,
  importCatalog,
  parseProductRowId,
  productDetails,
  searchCatalog,
  withTenant,
  type CatalogHit,
  type CatalogSearchResult,
  type Tenant,
} from '@alphadome/tenant-core';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { musicShopCatalog } from '@alphadome/testkit/music-catalog';

let db: TestDatabase;
let shop: Tenant;
let other: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  shop = await createTenant(db.sql, { slug: 'kassangas', clientName: 'Kassangas Music Shop', phoneNumberId: '106540352242922' });
  other = await createTenant(db.sql, { slug: 'other-shop', clientName: 'Other Shop', phoneNumberId: '200000000000001' });
  await withTenant(db.sql, shop.id, (tx) => importCatalog(tx, musicShopCatalog(200, 1)));
  // tenant B: a different catalog with products tenant A must never see
  await withTenant(db.sql, other.id, (tx) =>
    importCatalog(tx, [
      { sku: 'B-TRUMPET', name: 'Bach TR300 Trumpet', category: 'Brass', brand: 'Bach', price: 90000, stock: 2 },
      { sku: 'AG-F310', name: 'Tenant B Secret Guitar', category: 'Acoustic Guitars', brand: 'Yamaha', price: 100, stock: 1 },
      { sku: 'B-P45', name: 'Yamaha P-45 Digital Piano (tenant B)', category: 'Digital Pianos', brand: 'Yamaha', price: 1, stock: 9 },
    ]),
  );
  await db.sql`analyze alphadome.bot_products`;
});

afterAll(async () => {
  await db?.drop();
});

const search = (q: string, limit = 10) => withTenant(db.sql, shop.id, (tx) => searchCatalog(tx, q, { limit }));

type Expectation = {
  q: string;
  /** every one of the top `top` hits (default 3) has a category matching this */
  category?: RegExp;
  /** the first hit's name matches */
  first?: RegExp;
  clear?: boolean;
  check?: (r: CatalogSearchResult) => void;
  top?: number;
};

const guitar = /guitar/i;
const ascending = (r: CatalogSearchResult) => {
  const prices = r.products.map((p) => p.price ?? 0);
  expect(prices).toEqual([...prices].sort((a, b) => a - b));
};

const cases: Expectation[] = [
  // the questions
  { q: 'do you have guitars?', category: guitar, top: 10, clear: false },
  { q: 'gitar', category: guitar, top: 10 },
  {
    q: 'cheapest keyboard',
    category: /^keyboards$/i,
    top: 5,
    clear: true,
    check: (r) => {
      expect(r.intent.cheapest).toBe(true);
      ascending(r);
    },
  },
  {
    q: 'guitars under 20000',
    category: guitar,
    top: 10,
    check: (r) => {
      expect(r.intent.priceMax).toBe(20000);
      expect(r.products.length).toBeGreaterThan(1);
      for (const p of r.products) expect(p.price!).toBeLessThanOrEqual(20000);
      expect(r.products.map((p) => p.name)).toContain('Yamaha F310 Acoustic Guitar');
    },
  },
  { q: 'is the Yamaha P-45 available', first: /^Yamaha P-45 Digital Piano$/, clear: true, check: (r) => expect(r.intent.stockQuestion).toBe(true) },
  { q: 'bei ya gitaa', category: guitar, top: 10, check: (r) => expect(r.intent.priceQuestion).toBe(true) },
  // English, plurals, misspellings
  { q: 'keybord', category: /keyboards/i },
  { q: 'Do you sell pianos', category: /pianos/i, top: 5 },
  { q: 'digital piano below 20k', check: (r) => expect(r.products).toEqual([]) },
  { q: 'digital pianos less than 80,000', category: /pianos/i, check: (r) => {
    expect(r.intent.priceMax).toBe(80000);
    expect(r.products.map((p) => p.name)).toContain('Yamaha P-45 Digital Piano');
    for (const p of r.products) expect(p.price!).toBeLessThanOrEqual(80000);
  } },
  { q: 'yamaha p45', first: /Yamaha P-45/, clear: true },
  { q: 'how much is the Shure SM58?', first: /Shure SM58/, clear: true },
  { q: 'sm 58 mic', first: /Shure SM58/, clear: true },
  { q: 'microphones', category: /microphones/i, top: 5 },
  { q: 'mikrofon', category: /microphones/i },
  { q: 'drums', category: /drum/i, top: 5 },
  { q: 'electric guitar', category: /electric guitars/i, top: 5 },
  { q: 'acoustic gitars', category: /acoustic guitars/i, top: 5 },
  { q: 'bass guitar', category: /bass guitars/i, top: 3 },
  { q: 'ukelele', category: /ukuleles/i },
  { q: 'violins', category: /violins/i },
  { q: 'do you have capo', first: /Capo/, clear: true },
  { q: 'guitar strings', category: /strings/i, top: 3 },
  { q: 'super slinky', first: /Ernie Ball Regular Slinky/, clear: true },
  { q: 'most expensive electric guitar', first: /Gibson Les Paul/, check: (r) => expect(r.intent.mostExpensive).toBe(true) },
  { q: 'amplifier between 5000 and 10000', category: /amplifiers/i, check: (r) => {
    expect(r.intent).toMatchObject({ priceMin: 5000, priceMax: 10000 });
    for (const p of r.products) expect(p.price!).toBeGreaterThanOrEqual(5000);
  } },
  { q: 'sustain pedal for keyboard', first: /Sustain Pedal/ },
  // Swahili
  { q: 'una piano?', category: /pianos/i, top: 5 },
  { q: 'nataka kinanda', category: /keyboards/i, top: 5 },
  { q: 'naomba bei ya ngoma', category: /drum/i, top: 3 },
  { q: 'kinanda ya bei nafuu', category: /keyboards/i, top: 3, check: (r) => { expect(r.intent.cheapest).toBe(true); ascending(r); } },
  { q: 'gitaa chini ya elfu 20', category: guitar, top: 10, check: (r) => {
    expect(r.intent.priceMax).toBe(20000);
    for (const p of r.products) expect(p.price!).toBeLessThanOrEqual(20000);
  } },
  { q: 'Yamaha P-45 iko?', first: /Yamaha P-45/, clear: true, check: (r) => expect(r.intent.stockQuestion).toBe(true) },
  { q: 'mnauza fidla?', category: /violins/i },
  // nothing in the catalog: the FAQ / LLM path takes over
  { q: 'what time do you open?', check: (r) => expect(r.products).toEqual([]) },
  { q: 'habari', check: (r) => expect(r.products).toEqual([]) },
];

describe('searchCatalog: how customers ask (200-product music shop)', () => {
  it.each(cases)('$q', async (c) => {
    const r = await search(c.q);
    if (c.category) {
      expect(r.products.length, `${c.q}: no products`).toBeGreaterThan(0);
      for (const p of r.products.slice(0, c.top ?? 3)) expect(p.category, `${c.q}: ${p.name}`).toMatch(c.category);
    }
    if (c.first) expect(r.products[0]?.name, c.q).toMatch(c.first);
    if (c.clear !== undefined) expect(r.clear, `${c.q}: clear`).toBe(c.clear);
    c.check?.(r);
  });

  it('has at least 25 questions', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });
});

describe('analyseCatalogQuery', () => {
  it('reads prices, plurals, model numbers and stop words', () => {
    expect(analyseCatalogQuery('guitars under 20000')).toEqual({ terms: ['guitar'], intent: { priceMax: 20000 } });
    expect(analyseCatalogQuery('below 20k').intent.priceMax).toBe(20000);
    expect(analyseCatalogQuery('less than 20,000 please').intent.priceMax).toBe(20000);
    expect(analyseCatalogQuery('over KES 1.5m').intent.priceMin).toBe(1_500_000);
    expect(analyseCatalogQuery('is the Yamaha P-45 available')).toEqual({ terms: ['yamaha', 'p45'], intent: { stockQuestion: true } });
    expect(analyseCatalogQuery('accessories').terms).toEqual(['accessor']);
    expect(analyseCatalogQuery('bei ya gitaa')).toEqual({ terms: ['guitar'], intent: { priceQuestion: true } });
    expect(analyseCatalogQuery('una piano?').terms).toEqual(['piano']);
    expect(analyseCatalogQuery('under 2000 microphones').terms).toEqual(['microphone']);
  });
});

describe('isolation and taps', () => {
  it("never returns tenant B's products in tenant A's context", async () => {
    for (const q of ['trumpet', 'Bach TR300', 'secret guitar', 'yamaha p45', 'guitars under 200']) {
      const r = await search(q);
      for (const p of r.products) {
        expect(p.name).not.toMatch(/tenant B|Trumpet|Secret/);
      }
    }
    const b = await withTenant(db.sql, other.id, (tx) => searchCatalog(tx, 'trumpet'));
    expect(b.products.map((p) => p.name)).toEqual(['Bach TR300 Trumpet']);
    const bGuitars = await withTenant(db.sql, other.id, (tx) => searchCatalog(tx, 'guitars'));
    expect(bGuitars.products.map((p) => p.name)).toEqual(['Tenant B Secret Guitar']);
  });

  it('searches nothing outside a tenant transaction', async () => {
    const rows = await db.sql.begin(async (tx) => {
      await tx`select set_config('role', 'alphadome_app', true)`;
      return tx`select * from alphadome.catalog_search(array['guitar'], null, null, 'relevance', 10)`;
    });
    expect(rows.length).toBe(0);
  });

  it('a list reply tap opens that product, and only within its tenant', async () => {
    const r = await search('do you have guitars?');
    const reply = catalogReply('254700000001', r);
    expect(reply?.type).toBe('interactive');
    const rows = reply?.type === 'interactive' && reply.interactive.type === 'list' ? reply.interactive.action.sections[0]!.rows : [];
    const tapped = rows[2]!;
    const id = parseProductRowId(tapped.id);
    expect(id).toBe(r.products[2]!.id);
    const product = await withTenant(db.sql, shop.id, (tx) => productDetails(tx, id!));
    expect(product?.name).toBe(r.products[2]!.name);
    const fromOther = await withTenant(db.sql, other.id, (tx) => productDetails(tx, id!));
    expect(fromOther).toBeNull();
  });

  it('a clear match becomes an image message with name, price and stock', async () => {
    const r = await search('is the Yamaha P-45 available');
    const reply = catalogReply('254700000001', r);
    expect(reply?.type).toBe('image');
    const caption = reply?.type === 'image' ? reply.image.caption ?? '' : '';
    expect(caption).toContain('Yamaha P-45 Digital Piano');
    expect(caption).toContain('KES 75,000');
    expect(caption).toContain('In stock (3)');
  });

  it('variants are matched and shown', async () => {
    const r = await search('7A drumsticks');
    expect(r.products[0]?.name).toBe('Vic Firth 5A Drumsticks');
    const p = r.products[0] as CatalogHit;
    expect(p.variants.map((v) => v.name)).toEqual(['5B Drumsticks', '7A Drumsticks']);
  });
});
