import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { createHarness, expectFailure, type Harness } from './cli-harness.ts';

let db: TestDatabase;
let h: Harness;

const productCount = async (): Promise<number> =>
  Number((await db.sql<{ n: string }[]>`select count(*) as n from alphadome.bot_products`)[0]!.n);

beforeAll(async () => {
  db = await createTestDatabase();
  h = await createHarness({ DATABASE_URL: db.url, REDIS_URL: redisUrl(), ENCRYPTION_KEYS: TEST_KEYRING_SPEC, QUEUE_PREFIX: 'cli-catalog' });
  await h.json(['tenant', 'create', '--slug', 'kassangas', '--name', 'Kassangas Music Shop', '--phone-number-id', '106540352242922']);
  await h.json(['tenant', 'create', '--slug', 'other', '--name', 'Other Shop', '--phone-number-id', '106540352242999']);
});

afterAll(async () => {
  await h?.cleanup();
  await db?.drop();
});

describe('alphadome catalog', () => {
  it('imports CSV and JSON into one tenant and searches it', { timeout: 60_000 }, async () => {
    const csv = await h.file(
      'shop.csv',
      'sku,name,description,category,brand,price,currency,stock,image_url\n' +
        'YAM-P45,Yamaha P-45 Digital Piano,88 weighted keys,Keyboards,Yamaha,65000,KES,3,https://example.com/p45.jpg\n' +
        'FEN-STRAT,Fender Stratocaster,Electric guitar,Guitars,Fender,120000,KES,0,\n',
    );
    const imported = await h.json<{ rows: number; inserted: number }>(['catalog', 'import', 'kassangas', csv]);
    expect(imported).toMatchObject({ rows: 2, inserted: 2 });
    const json = await h.file('more.json', JSON.stringify([{ sku: 'UKU-1', name: 'Soprano Ukulele', category: 'Ukuleles', price: 4500, stock: 10 }]));
    expect(await h.json(['catalog', 'import', 'kassangas', json])).toMatchObject({ rows: 1, inserted: 1 });
    // re-importing updates by SKU instead of duplicating
    expect(await h.json(['catalog', 'import', 'kassangas', csv])).toMatchObject({ inserted: 0, updated: 2 });
    expect(await productCount()).toBe(3);

    const found = await h.json<{ products: { sku: string }[] }>(['catalog', 'search', 'kassangas', 'is the yamaha p45 available']);
    expect(found.products[0]?.sku).toBe('YAM-P45');
    const other = await h.json<{ products: unknown[] }>(['catalog', 'search', 'other', 'yamaha piano']);
    expect(other.products).toEqual([]);
  });

  it('a bad row names its line and imports nothing', { timeout: 60_000 }, async () => {
    const before = await productCount();
    const bad = await h.file(
      'bad.csv',
      'sku,name,description,category,brand,price,currency,stock,image_url\n' +
        'DRUM-1,Pearl Drum Kit,,Drums,Pearl,85000,KES,2,\n' +
        'DRUM-2,Broken Row,,Drums,Pearl,not-a-price,KES,2,\n',
    );
    const run = await h.cli(['catalog', 'import', 'kassangas', bad]);
    expectFailure(run, 1, /^alphadome: bad\.csv:3: /);
    expect(await productCount()).toBe(before);
    expectFailure(await h.cli(['catalog', 'import', 'ghost', bad]), 1, /not found|bad\.csv:3/);
  });
});
