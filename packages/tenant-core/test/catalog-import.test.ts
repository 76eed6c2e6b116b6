import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppError,
  catalogReply,
  createTenant,
  importCatalog,
  Keyring,
  migrate,
  parseCatalogFile,
  productListMessage,
  productMessage,
  searchCatalog,
  withTenant,
  type CatalogHit,
  type Tenant,
} from '@alphadome/tenant-core';
import { createTestDatabase, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';

let db: TestDatabase;
let shop: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  shop = await createTenant(db.sql, { slug: 'kassangas', clientName: 'Kassangas Music Shop', phoneNumberId: '106540352242922' });
});

afterAll(async () => {
  await db?.drop();
});

const header = 'sku,name,description,category,brand,price,currency,stock,image_url,variant_name,variant_sku,variant_price,variant_stock';
const goodCsv = [
  header,
  'AG-F310,Yamaha F310 Acoustic Guitar,Dreadnought,Acoustic Guitars,Yamaha,"18,500",KES,7,https://img.example.com/f310.jpg,,,,',
  'VN-1,Stentor Student Violin,Outfit,Violins,Stentor,22000,,5,,4/4 size,VN-1-44,22000,3',
  'VN-1,,,,,,,,,3/4 size,VN-1-34,21000,2',
].join('\n');

const count = () => withTenant(db.sql, shop.id, async (tx) => (await tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_products`)[0]!.n);

describe('catalog import', () => {
  it('imports CSV with variants and upserts by sku', async () => {
    const rows = await parseCatalogFile(goodCsv, { content: true, format: 'csv', fileName: 'catalog.csv' });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ sku: 'AG-F310', price: 18500, stock: 7, imageUrl: 'https://img.example.com/f310.jpg' });
    expect(rows[1]!.variants.map((v) => v.name)).toEqual(['4/4 size', '3/4 size']);
    expect(await withTenant(db.sql, shop.id, (tx) => importCatalog(tx, rows))).toMatchObject({ inserted: 2, updated: 0, variants: 2 });
    const again = await withTenant(db.sql, shop.id, (tx) => importCatalog(tx, [{ ...rows[0]!, price: 19000 }]));
    expect(again).toMatchObject({ inserted: 0, updated: 1 });
    const r = await withTenant(db.sql, shop.id, (tx) => searchCatalog(tx, 'yamaha f310'));
    expect(r.products[0]).toMatchObject({ name: 'Yamaha F310 Acoustic Guitar', price: 19000 });
  });

  it('a bad row is reported with its line, and nothing is changed', async () => {
    const before = await count();
    const csv = [
      header,
      'NEW-1,Brand New Cajon,,Drums,Meinl,9000,KES,3,,,,,',
      'NEW-2,Another Item,,Drums,Meinl,not-a-price,KES,3,,,,,',
    ].join('\n');
    await expect(parseCatalogFile(csv, { content: true, fileName: 'shop.csv' })).rejects.toThrow(/^shop\.csv:3: price/);
    const err = await parseCatalogFile(csv, { content: true, fileName: 'shop.csv' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('bad_request');
    expect(await count()).toBe(before);

    const json = `[
  {"sku": "J-1", "name": "Json Guitar", "price": 1000},
  {"sku": "J-2", "name": "", "price": 1000}
]`;
    await expect(parseCatalogFile(json, { content: true, fileName: 'shop.json' })).rejects.toThrow(/^shop\.json:3: name is empty/);
  });

  it('importCatalog is all or nothing when the database refuses a row', async () => {
    const before = await count();
    // two products claiming the same variant sku: the second insert violates (tenant, sku)
    const rows = [
      { sku: 'X-1', name: 'First', price: 100, variants: [{ name: 'a', sku: 'DUP' }] },
      { sku: 'X-2', name: 'Second', price: 100, variants: [{ name: 'b', sku: 'DUP' }] },
    ];
    await expect(withTenant(db.sql, shop.id, (tx) => importCatalog(tx, rows))).rejects.toThrow();
    // even when the caller catches the error inside its transaction
    await withTenant(db.sql, shop.id, async (tx) => {
      await importCatalog(tx, rows).catch(() => {});
    });
    expect(await count()).toBe(before);
  });
});

describe('reply builders', () => {
  const long = (i: number): CatalogHit => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    sku: `SKU-${i}`,
    name: `Yamaha Super Long Product Name Number ${i} With Extras 🎸`,
    description: 'x'.repeat(500),
    category: 'A Category With A Rather Long Name Indeed For Testing Limits',
    brand: 'Yamaha',
    price: 1234567.5,
    currency: 'KES',
    stock: i % 3 === 0 ? 0 : i,
    imageUrl: null,
    score: 1,
    variants: [],
  });

  it('lists keep to 10 rows, 24-character titles and 72-character descriptions', () => {
    const msg = productListMessage('254700000001', Array.from({ length: 14 }, (_, i) => long(i + 1)));
    if (msg.type !== 'interactive' || msg.interactive.type !== 'list') throw new Error('expected a list');
    const rows = msg.interactive.action.sections.flatMap((s) => s.rows);
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect([...row.title].length).toBeLessThanOrEqual(24);
      expect([...(row.description ?? '')].length).toBeLessThanOrEqual(72);
      expect(row.id).toMatch(/^product:[0-9a-f-]{36}$/);
    }
    expect(rows[2]!.description).toContain('Out of stock');
  });

  it('one product: an image with name, price in the currency and stock', () => {
    const hit = { ...long(1), name: 'Yamaha F310 Acoustic Guitar', price: 18500, stock: 3, imageUrl: 'https://img.example.com/f310.jpg' };
    const msg = productMessage('254700000001', hit);
    if (msg.type !== 'image') throw new Error('expected an image');
    expect(msg.image.link).toBe('https://img.example.com/f310.jpg');
    expect(msg.image.caption).toContain('KES 18,500');
    expect(msg.image.caption).toContain('In stock (3)');
    const out = productMessage('254700000001', { ...hit, stock: 0 });
    expect(out.type === 'image' && out.image.caption).toContain('Out of stock');
    expect(catalogReply('254700000001', { products: [], clear: false })).toBeNull();
  });
});

describe('migration over a legacy catalog', () => {
  let legacy: TestDatabase;
  afterAll(async () => {
    await legacy?.drop();
  });

  it('keeps the data, tenantizes it and makes SKUs unique per tenant', async () => {
    legacy = await createTestDatabase({ empty: true });
    const t1 = '5a1c0de5-6b2f-4c39-8d0e-3f4a5b6c7d80';
    const t2 = '9e2d4f60-1a3b-4c5d-8e7f-a0b1c2d3e4f5';
    await legacy.sql.unsafe(`
      create schema alphadome;
      create table alphadome.bot_tenants (
        id uuid primary key default gen_random_uuid(), client_name text not null, client_phone text,
        brand_id uuid, whatsapp_phone_number_id text, whatsapp_business_account_id text,
        whatsapp_access_token text, whatsapp_token_expires_at timestamptz, ai_provider text,
        ai_api_key text, ai_model text, is_active boolean default true, webhook_verify_token text,
        created_at timestamptz default now(), updated_at timestamptz default now());
      create table alphadome.bot_products (
        id uuid primary key default gen_random_uuid(),
        bot_tenant_id uuid not null references alphadome.bot_tenants (id),
        sku text unique, name text not null, description text, price numeric(12, 2),
        currency text default 'KES', in_stock boolean default true, created_at timestamptz default now());
      insert into alphadome.bot_tenants (id, client_name) values ('${t1}', 'Kassangas Music Shop'), ('${t2}', 'Other Shop');
      insert into alphadome.bot_products (bot_tenant_id, sku, name, description, price, in_stock) values
        ('${t1}', 'PSR-E373', 'Yamaha PSR-E373', '61-key portable keyboard', 38500, true),
        ('${t1}', 'CD-60S', 'Fender CD-60S', 'Dreadnought acoustic guitar', 27000, false);
    `);
    await migrate(legacy.sql, { keyring: Keyring.fromSpec(TEST_KEYRING_SPEC) });
    const rows = await legacy.sql<{ sku: string; name: string; price: string; tenant_id: string; bot_tenant_id: string; stock: number | null; in_stock: boolean }[]>`
      select sku, name, price, tenant_id, bot_tenant_id, stock, in_stock from alphadome.bot_products order by sku`;
    expect(rows).toEqual([
      { sku: 'CD-60S', name: 'Fender CD-60S', price: '27000.00', tenant_id: t1, bot_tenant_id: t1, stock: 0, in_stock: false },
      { sku: 'PSR-E373', name: 'Yamaha PSR-E373', price: '38500.00', tenant_id: t1, bot_tenant_id: t1, stock: null, in_stock: true },
    ]);
    // the same SKU in another tenant is fine now; twice in one tenant is not
    await withTenant(legacy.sql, t2, (tx) => importCatalog(tx, [{ sku: 'PSR-E373', name: 'Their keyboard', price: 1 }]));
    await expect(
      withTenant(legacy.sql, t1, (tx) => tx`insert into alphadome.bot_products (sku, name, price) values ('PSR-E373', 'dup', 1)`),
    ).rejects.toThrow(/bot_products_tenant_sku_key/);
    const found = await withTenant(legacy.sql, t1, (tx) => searchCatalog(tx, 'yamaha keybord'));
    expect(found.products.map((p) => p.name)).toEqual(['Yamaha PSR-E373']);
    const other = await withTenant(legacy.sql, t2, (tx) => searchCatalog(tx, 'yamaha psr'));
    expect(other.products.map((p) => p.name)).toEqual(['Their keyboard']);
    // and the migrations apply again without change
    const again = await migrate(legacy.sql, { keyring: Keyring.fromSpec(TEST_KEYRING_SPEC) });
    expect(again.applied).toEqual([]);
  });
});
