import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceTenantChanged, searchFaq, TenantContextCache, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { createTenant, keyring, sleep, uniquePrefix, waitUntil, type TestTenant } from './harness.ts';

let db: TestDatabase;
let A: TestTenant;
let B: TestTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  A = await createTenant(db.sql, {
    slug: 'a-shop',
    name: 'A Shop',
    phoneNumberId: '111111111111111',
    faq: [
      { question: 'What are your opening hours?', answer: 'Eight to six.' },
      { question: 'Do you deliver to Mombasa?', answer: 'Yes, in two days.' },
      { question: 'Do you sell guitar strings?', answer: 'Yes, from KES 900.' },
      { question: 'Je, mnauza gitaa za umeme?', answer: 'Ndiyo, tunauza.' },
    ],
  });
  B = await createTenant(db.sql, { slug: 'b-shop', name: 'B Shop', phoneNumberId: '222222222222222', faq: [] });
});
afterAll(async () => {
  await db?.drop();
});

describe('searchFaq', () => {
  const search = (t: TestTenant, text: string) => withTenant(db.sql, t.id, (tx) => searchFaq(tx, text));

  it('a near-identical question is a clear match', async () => {
    const r = await search(A, 'what are your opening hours??');
    expect(r.clear).toBe(true);
    expect(r.candidates[0]!.answer).toBe('Eight to six.');
    const sw = await search(A, 'mnauza gitaa za umeme?');
    expect(sw.clear).toBe(true);
  });

  it('a loosely related message gives candidates but no clear match', async () => {
    const r = await search(A, 'I live in Mombasa, could a keyboard be sent to me by courier?');
    expect(r.clear).toBe(false);
    expect(r.candidates[0]!.question).toBe('Do you deliver to Mombasa?');
  });

  it('nothing related: no candidates', async () => {
    const r = await search(A, 'xylophone zebra');
    expect(r.candidates).toEqual([]);
    expect(r.clear).toBe(false);
    // only filler, only short words, only emoji, tsquery syntax: no error, nothing clear
    for (const text of ['what is the', 'ok', '👍🏽', "a & b | !c:* ' \\"]) {
      expect((await search(A, text)).clear).toBe(false);
    }
  });

  it('only the tenant’s own FAQ is searched (RLS)', async () => {
    const r = await search(B, 'what are your opening hours');
    expect(r.candidates).toEqual([]);
  });
});

describe('TenantContextCache', () => {
  it('loads settings and decrypted secrets, caches them and drops them when a change is announced', async () => {
    const prefix = uniquePrefix('ctx');
    const cache = new TenantContextCache({ sql: db.sql, keyring, ttlMs: 60_000 });
    await cache.subscribe(redisUrl(), prefix);
    try {
      const ctx = await cache.get(A.id);
      expect(ctx!.secrets.whatsappToken).toBe(A.token);
      expect(ctx!.secrets.openaiKey).toBe(A.openaiKey);
      expect(ctx!.phoneNumberId).toBe(A.phoneNumberId);
      expect(ctx!.settings.botEnabled).toBe(true);
      await withTenant(db.sql, A.id, (tx) => tx`update alphadome.bot_control_settings set system_prompt = 'changed'`);
      await sleep(50);
      expect((await cache.get(A.id))!.settings.systemPrompt).toBe(''); // cached
      await announceTenantChanged(redisUrl(), prefix, A.id);
      await waitUntil(async () => (await cache.get(A.id))!.settings.systemPrompt === 'changed', 5000, 'invalidation');
      expect(await cache.get('00000000-0000-4000-8000-000000000000')).toBeNull();
    } finally {
      await cache.close();
    }
  });
});
