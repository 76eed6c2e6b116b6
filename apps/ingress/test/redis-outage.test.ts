import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundJobId } from '@alphadome/tenant-core';
import { buildTextWebhook, signBody } from '@alphadome/whatsapp';
import { createTenant, META_DISPLAY_PHONE, META_PHONE_NUMBER_ID, metricsText, metricValue, PLATFORM_SECRET, post, startHarness, type Harness } from './helpers.ts';
import { PrivateRedis } from './private-redis.ts';

/** Ingress on a Redis of its own, which these tests stop, pause and restart. */
let redis: PrivateRedis;
let h: Harness;
let tenant: string;

const webhook = (wamid: string) =>
  buildTextWebhook({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, from: '254711000111', wamid, text: 'Gitaa bei gani?' });

beforeAll(async () => {
  redis = await PrivateRedis.start();
  h = await startHarness('outage', { redisUrl: redis.url });
  tenant = await createTenant(h.db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
});

afterAll(async () => {
  await h?.close();
  await redis?.kill();
});

async function waitReady(): Promise<void> {
  await expect.poll(async () => (await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, { timeout: 10_000, interval: 100 }).toBe(200);
}

describe('Redis outage', () => {
  it('Redis stopped during a request → 503 within the enqueue timeout; after Redis returns the redelivery is enqueued once', async () => {
    expect((await post(h.app, webhook('wamid.before-outage'))).statusCode).toBe(200);

    // Hold writes so the request is in flight in Redis when the server dies.
    await redis.command('CLIENT', 'PAUSE', 10_000, 'WRITE');
    const raw = webhook('wamid.during-outage');
    const started = Date.now();
    const inFlight = post(h.app, raw);
    await new Promise((r) => setTimeout(r, 300));
    await redis.kill();
    const res = await inFlight;
    const elapsed = Date.now() - started;
    expect(res.statusCode).toBe(503);
    expect(elapsed).toBeLessThan(3_500);

    // While Redis is down: fail fast (no offline queue), readiness says why.
    const t0 = Date.now();
    expect((await post(h.app, raw)).statusCode).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1_000);
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.redis).toMatch(/^failed/);
    expect(ready.json().checks.postgres).toBe('ok');
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_requests_total', 'outcome="unavailable"')).toBeGreaterThanOrEqual(2);

    // Redis returns (empty: no persistence); Meta redelivers, more than once.
    await redis.start();
    await waitReady();
    const signature = signBody(raw, PLATFORM_SECRET);
    expect((await post(h.app, raw, { signature })).statusCode).toBe(200);
    expect((await post(h.app, raw, { signature })).statusCode).toBe(200);
    const jobs = await h.jobs('inbound');
    const during = jobs.filter((j) => j.data.wamid === 'wamid.during-outage');
    expect(during).toHaveLength(1);
    expect(during[0]!.id).toBe(inboundJobId(tenant, 'wamid.during-outage'));
  });

  it('a Redis that is slow but alive is waited for (no 503 for a short stall)', async () => {
    await waitReady();
    await redis.command('CLIENT', 'PAUSE', 500, 'WRITE');
    const res = await post(h.app, webhook('wamid.slow-redis'));
    expect(res.statusCode).toBe(200);
    expect((await h.jobs('inbound')).some((j) => j.data.wamid === 'wamid.slow-redis')).toBe(true);
  });
});

describe('graceful shutdown', () => {
  it('app.close() lets a request waiting for Redis finish with 200, and refuses new connections', async () => {
    await waitReady();
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    await redis.command('CLIENT', 'PAUSE', 800, 'WRITE');
    const raw = webhook('wamid.in-flight-at-shutdown');
    const inFlight = fetch(`${address}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, PLATFORM_SECRET) },
      body: raw,
    });
    await new Promise((r) => setTimeout(r, 200));
    const closing = h.app.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    await closing;
    expect((await h.jobs('inbound')).some((j) => j.data.wamid === 'wamid.in-flight-at-shutdown')).toBe(true);
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
  });
});
