/**
 * Tenant routing when Postgres does not answer: a lookup that hangs (here: bot_tenants locked by
 * another transaction, as a cut connection or a stuck pooler would leave it) fails within the
 * lookup deadline with 503 (Meta retries) instead of holding every request for that number, and
 * a route that is known but expired keeps answering from the cache until the database is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { buildTextWebhook } from '@alphadome/whatsapp';
import { createTenant, META_DISPLAY_PHONE, metricsText, metricValue, post, startHarness, type Harness } from './helpers.ts';

const KNOWN = '106540352242922';
const LATER = '106540352240001';

let h: Harness;
let locker: postgres.Sql | undefined;

beforeAll(async () => {
  h = await startHarness('routing-outage', { routingTtlMs: 150, routingLookupTimeoutMs: 400 });
  await createTenant(h.db.sql, { slug: 'kassangas', phoneNumberId: KNOWN });
  await createTenant(h.db.sql, { slug: 'later', phoneNumberId: LATER });
});

afterAll(async () => {
  await locker?.end({ timeout: 1 });
  await h?.close();
});

const webhook = (phoneNumberId: string, wamid: string) =>
  buildTextWebhook({ phoneNumberId, displayPhoneNumber: META_DISPLAY_PHONE, from: '254700000009', wamid, text: 'habari' });

/** Holds an ACCESS EXCLUSIVE lock on bot_tenants until the returned function is called. */
async function lockTenants(): Promise<() => Promise<void>> {
  locker ??= postgres(h.db.url, { max: 1, onnotice: () => {} });
  const conn = await locker.reserve();
  await conn`begin`;
  await conn`lock table alphadome.bot_tenants in access exclusive mode`;
  return async () => {
    await conn`rollback`;
    conn.release();
  };
}

describe('tenant routing while Postgres does not answer', () => {
  it('an unknown route fails within the lookup deadline (503, nothing enqueued); the redelivery after the database is back is enqueued once', async () => {
    const unlock = await lockTenants();
    try {
      const started = Date.now();
      const [a, b] = await Promise.all([post(h.app, webhook(LATER, 'wamid.HANG1')), post(h.app, webhook(LATER, 'wamid.HANG1'))]);
      const took = Date.now() - started;
      expect([a.statusCode, b.statusCode]).toEqual([503, 503]);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(5_000);
      // a second try while still locked is not stuck behind the first lookup: it gets its own deadline
      const again = await post(h.app, webhook(LATER, 'wamid.HANG1'));
      expect(again.statusCode).toBe(503);
      expect(await h.jobs('inbound')).toHaveLength(0);
    } finally {
      await unlock();
    }
    const redelivered = await post(h.app, webhook(LATER, 'wamid.HANG1'));
    expect(redelivered.statusCode).toBe(200);
    const jobs = await h.jobs('inbound');
    expect(jobs.map((j) => j.data.wamid)).toEqual(['wamid.HANG1']);
    await h.drain();
  });

  it('a known route whose cache entry expired is still answered from the cache while the lookup fails', async () => {
    expect((await post(h.app, webhook(KNOWN, 'wamid.FRESH'))).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 250)); // past the 150 ms TTL
    const unlock = await lockTenants();
    try {
      const res = await post(h.app, webhook(KNOWN, 'wamid.STALE'));
      expect(res.statusCode).toBe(200);
      // "no such number" is never answered from an expired entry: that would drop the message
      const unknown = await post(h.app, webhook('106540352249999', 'wamid.NOBODY'));
      expect(unknown.statusCode).toBe(503);
    } finally {
      await unlock();
    }
    const jobs = await h.jobs('inbound');
    expect(jobs.map((j) => j.data.wamid).sort()).toEqual(['wamid.FRESH', 'wamid.STALE']);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_routing_stale_total', 'kind="phone"')).toBe(1);
    await h.drain();
  });
});
