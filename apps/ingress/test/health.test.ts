import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBuffer } from '@alphadome/whatsapp/fixtures';
import { buildTextWebhook } from '@alphadome/whatsapp';
import { createTenant, META_PHONE_NUMBER_ID, metricsText, metricValue, post, startHarness, type Harness } from './helpers.ts';
import { freePort } from './private-redis.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('health');
  await createTenant(h.db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
});

afterAll(async () => {
  await h?.close();
});

describe('health and metrics', () => {
  it('/healthz answers while the process is up', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz checks Redis and Postgres', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });
  });

  it('/metrics exposes requests by outcome, items by kind, signature failures, unknown numbers, enqueue latency and process metrics', async () => {
    await post(h.app, fixtureBuffer('batch')); // 2 messages + 2 statuses for the known number, the rest unknown
    await post(h.app, fixtureBuffer('text'), { signature: 'sha256=00' });
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(metricValue(text, 'alphadome_ingress_requests_total', 'outcome="accepted"')).toBe(1);
    expect(metricValue(text, 'alphadome_ingress_requests_total', 'outcome="unauthorized"')).toBe(1);
    expect(metricValue(text, 'alphadome_ingress_items_enqueued_total', 'kind="message"')).toBe(2);
    expect(metricValue(text, 'alphadome_ingress_items_enqueued_total', 'kind="status"')).toBe(2);
    expect(metricValue(text, 'alphadome_ingress_signature_failures_total')).toBe(1);
    expect(metricValue(text, 'alphadome_ingress_unknown_phone_number_total')).toBe(3);
    expect(metricValue(text, 'alphadome_ingress_enqueue_seconds_count')).toBe(1);
    expect(text).toMatch(/^alphadome_ingress_enqueue_seconds_bucket\{le="0.005"\} \d+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });
});

describe('Postgres unreachable', () => {
  it('routing that cannot ask the database answers 503 (Meta retries), and /readyz names postgres', async () => {
    const port = await freePort(); // nothing listens there
    const broken = await startHarness('no-postgres', { db: h.db, env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none` } });
    try {
      const raw = buildTextWebhook({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: '15550783881', from: '254700000001', wamid: 'wamid.nopg', text: 'hi' });
      const res = await post(broken.app, raw);
      expect(res.statusCode).toBe(503);
      expect(await broken.jobs('inbound')).toHaveLength(0);
      const ready = await broken.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toMatchObject({ redis: 'ok', postgres: expect.stringMatching(/^failed/) });
      // a failed lookup is not cached as "unknown number": once the database is back it routes
      expect(broken.deps.router.peekPhoneNumber(META_PHONE_NUMBER_ID)).toBeUndefined();
      expect(metricValue(await metricsText(broken.app), 'alphadome_ingress_unknown_phone_number_total')).toBe(0);
    } finally {
      await broken.close();
    }
  });
});
