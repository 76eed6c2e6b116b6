import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inboundJobId } from '@alphadome/tenant-core';
import { fixtureBuffer } from '@alphadome/whatsapp/fixtures';
import { createTenant, META_PHONE_NUMBER_ID, post, SECOND_PHONE_NUMBER_ID, startHarness, type Harness } from './helpers.ts';

/**
 * The 'direct' hand-off (deps option): jobs go straight into BullMQ on the webhook path, one
 * addBulk per queue per event-loop turn. The same guarantees, checked on the same payloads.
 */
let h: Harness;
let tenantA: string;

beforeAll(async () => {
  h = await startHarness('direct', { handoff: 'direct' });
  tenantA = await createTenant(h.db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
  await createTenant(h.db.sql, { slug: 'second-shop', phoneNumberId: SECOND_PHONE_NUMBER_ID });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(async () => {
  await h.drain();
});

describe("'direct' hand-off", () => {
  it('the jobs are in BullMQ when the 200 is sent (no forwarder, no stream)', async () => {
    expect(h.deps.forwarder).toBeNull();
    expect((await post(h.app, fixtureBuffer('text'))).statusCode).toBe(200);
    const [job] = await h.queues.inbound.getJobs(['wait', 'prioritized']);
    expect(job!.id).toBe(inboundJobId(tenantA, 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA='));
    expect(await h.deps.redis.exists(`${h.prefix}:ingress-handoff`)).toBe(0);
  });

  it('the same batch delivered 5 times at once → one job per item', async () => {
    const res = await Promise.all(Array.from({ length: 5 }, () => post(h.app, fixtureBuffer('batch'))));
    expect(res.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(await h.queues.inbound.count()).toBe(4);
    expect(await h.queues.status.count()).toBe(3);
  });
});
