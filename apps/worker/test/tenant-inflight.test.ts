import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, queueNames } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, type GraphSimulator } from '@alphadome/testkit';
import { createGraphClient } from '@alphadome/whatsapp';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import type { LlmClient } from '../src/llm.ts';
import { redisOf } from '../src/delivery/fair-enqueue.ts';
import { defaultTenantInflight, TenantInflight } from '../src/delivery/tenant-inflight.ts';
import { createTenant, dropPrefix, keyring, newCustomer, postWebhook, startIngress, textWebhook, uniquePrefix, waitUntil, type Ingress, type TestTenant } from './harness.ts';

/**
 * Per-tenant in-flight cap (delivery/tenant-inflight.ts): a tenant with a burst runs at most
 * `cap` jobs of a queue at once; the rest wait parked (delayed, promoted as its jobs end), so
 * another tenant's job finds a free slot and a quiet worker. Real ingress, Redis, Postgres and
 * Graph simulator; the LLM is a stand-in that counts the calls in flight per tenant (by API key).
 */
let db: TestDatabase;
let graph: GraphSimulator;
let ingress: Ingress;
let worker: WorkerHandle | undefined;
const prefix = uniquePrefix('cap');
let A: TestTenant;
let B: TestTenant;

const inFlight = new Map<string, number>();
const maxInFlight = new Map<string, number>();
const calls: { key: string; at: number }[] = [];
const llm: LlmClient = async (call) => {
  const n = (inFlight.get(call.apiKey) ?? 0) + 1;
  inFlight.set(call.apiKey, n);
  maxInFlight.set(call.apiKey, Math.max(n, maxInFlight.get(call.apiKey) ?? 0));
  calls.push({ key: call.apiKey, at: Date.now() });
  await new Promise((r) => setTimeout(r, 250));
  inFlight.set(call.apiKey, (inFlight.get(call.apiKey) ?? 1) - 1);
  return { text: 'Yes, we have it in stock.', promptTokens: 10, completionTokens: 5, model: 'gpt-4o-mini' };
};

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator({ seed: 11 });
  A = await createTenant(db.sql, { slug: 'burst-a', name: 'Burst A', phoneNumberId: '503000000000001' });
  B = await createTenant(db.sql, { slug: 'calm-b', name: 'Calm B', phoneNumberId: '503000000000002' });
  ingress = await startIngress({ databaseUrl: db.url, prefix });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await ingress?.stop();
  await graph?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

describe('per-tenant in-flight cap', () => {
  it("a burst runs at most `cap` replies at once, the rest parked and promoted in turn; another tenant's reply does not wait for the burst", async () => {
    worker = await startWorker({
      sql: db.sql,
      redisUrl: redisUrl(),
      prefix,
      keyring,
      graph: createGraphClient({ baseUrl: graph.url, timeoutMs: 2_000 }),
      llm,
      transcribe: null,
      concurrency: 8,
      contextTtlMs: 60_000,
      maintenance: false,
      tenantInflight: { caps: { inbound: 8, reply: 2, send: 8 } },
      logger: createLogger('worker-inflight-test', 'silent'),
    });
    // B has been answered a moment ago: another tenant is active, so A's cap holds (alone, A
    // would keep every slot: the next test)
    expect(await postWebhook(ingress.url, textWebhook(B, newCustomer(), 'Habari, are you open today?').raw)).toBe(200);
    await graph.waitForSent(1, { phoneNumberId: B.phoneNumberId, timeoutMs: 20_000 });
    calls.length = 0;
    const burst = 24;
    const statuses = await Promise.all(
      Array.from({ length: burst }, () => postWebhook(ingress.url, textWebhook(A, newCustomer(), 'Could you recommend a beginner instrument?').raw)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    // B writes once A's replies are under way
    await waitUntil(() => calls.some((c) => c.key === A.openaiKey), 15_000, "A's first LLM call");
    const bPosted = Date.now();
    expect(await postWebhook(ingress.url, textWebhook(B, newCustomer(), 'Could you recommend a beginner instrument?').raw)).toBe(200);
    await graph.waitForSent(2, { phoneNumberId: B.phoneNumberId, timeoutMs: 20_000 });
    const bLatency = graph.sentTo(B.phoneNumberId)[1]!.receivedAt - bPosted;
    const aSentWhenB = graph.sentTo(A.phoneNumberId).length;

    // every one of A's messages is answered: parked jobs are all promoted (none stranded)
    await graph.waitForSent(burst, { phoneNumberId: A.phoneNumberId, timeoutMs: 60_000 });
    // with 8 slots and no cap, A would run up to 8 LLM calls at once
    expect(maxInFlight.get(A.openaiKey!)).toBe(2);
    // B did not queue behind A's burst (24 replies at 2 × 250 ms ≥ 3 s)
    expect(aSentWhenB).toBeLessThan(burst);
    expect(bLatency).toBeLessThan(2_500);
    expect((await worker.metrics.tenantParked.get()).values.find((v) => v.labels.queue === 'reply')?.value ?? 0).toBeGreaterThan(0);

    // nothing held or parked once the burst is through
    const client = await redisOf(worker.queues.reply);
    await waitUntil(async () => (await client.zcard(`${prefix}:${queueNames.reply}:inflight:{${A.id}}:active`)) === 0, 10_000, "A's reply slots to be free");
    expect(await client.zcard(`${prefix}:${queueNames.reply}:inflight:{${A.id}}:parked`)).toBe(0);
    expect(await worker.queues.reply.getJobCounts('failed', 'delayed')).toEqual({ failed: 0, delayed: 0 });
  }, 120_000);

  it('the cap holds only while another tenant is active: a tenant alone keeps every slot', async () => {
    const client = await redisOf(worker!.queues.reply);
    const capPrefix = `${prefix}-alone`;
    const caps = new TenantInflight(client, capPrefix, { ...defaultTenantInflight, othersActiveMs: 400, caps: { inbound: 0, reply: 2, send: 0 } });
    const run = async (tenantId: string, ids: string[]) => {
      const got: boolean[] = [];
      for (const id of ids) got.push(await caps.acquire('reply', tenantId, id));
      return got;
    };
    expect(await run(A.id, ['a1', 'a2', 'a3', 'a4'])).toEqual([true, true, true, true]);
    // B starts a job: from now on A is over its cap
    expect(await run(B.id, ['b1'])).toEqual([true]);
    expect(await run(A.id, ['a5'])).toEqual([false]);
    // B idle for longer than othersActiveMs: A alone again
    await new Promise((r) => setTimeout(r, 500));
    expect(await run(A.id, ['a5', 'a6'])).toEqual([true, true]);
    await client.del(...caps.keys('reply', A.id), ...caps.keys('reply', B.id), caps.tenantsKey('reply'));
  });

  it('the cap is per worker process sharing the queues: with 3 workers one tenant may run 3 × cap', async () => {
    const client = await redisOf(worker!.queues.reply);
    const capPrefix = `${prefix}-scale`;
    const caps = new TenantInflight(client, capPrefix, { ...defaultTenantInflight, caps: { inbound: 0, reply: 2, send: 0 } });
    const run = async (ids: string[]) => {
      const got: boolean[] = [];
      for (const id of ids) got.push(await caps.acquire('reply', A.id, id));
      return got;
    };
    expect(await caps.acquire('reply', B.id, 'b1')).toBe(true); // another tenant is active: the cap holds
    expect(await run(['j1', 'j2', 'j3'])).toEqual([true, true, false]);
    caps.setWorkerCount(3);
    expect(caps.capOf('reply')).toBe(6);
    expect(await run(['j3', 'j4', 'j5', 'j6', 'j7'])).toEqual([true, true, true, true, false]);
    caps.setWorkerCount(Number.NaN); // an unreadable count falls back to one worker
    expect(caps.capOf('reply')).toBe(2);
    expect(caps.capOf('inbound')).toBe(0); // 0 stays "no cap"
    await client.del(...caps.keys('reply', A.id), ...caps.keys('reply', B.id), caps.tenantsKey('reply'));
  });
});
