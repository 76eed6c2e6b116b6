import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createLogger, queueNames } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, type GraphSimulator } from '@alphadome/testkit';
import { createGraphClient } from '@alphadome/whatsapp';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import { connectionFromUrl } from '../src/queues.ts';
import { redisOf } from '../src/delivery/fair-enqueue.ts';
import {
  createTenant,
  dropPrefix,
  keyring,
  newCustomer,
  postWebhook,
  startIngress,
  textWebhook,
  uniquePrefix,
  waitUntil,
  type Ingress,
  type TestTenant,
} from './harness.ts';

/**
 * Fairness on the inbound queue (DESIGN "Message path rules"): ingress gives each inbound job
 * its tenant's backlog as priority, so a quiet tenant's message is not queued behind another
 * tenant's burst.
 */
let db: TestDatabase;
let graph: GraphSimulator;
let ingress: Ingress;
let worker: WorkerHandle | undefined;
let inbound: Queue;
const prefix = uniquePrefix('fair');
let A: TestTenant;
let B: TestTenant;
const canned = (tag: string) => [{ name: 'greeting', triggers: ['hi'], body: `Hello ${tag}` }];

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator({ seed: 7 });
  A = await createTenant(db.sql, { slug: 'noisy-a', name: 'Noisy A', phoneNumberId: '502000000000001', canned: canned('A'), openaiKey: null });
  B = await createTenant(db.sql, { slug: 'quiet-b', name: 'Quiet B', phoneNumberId: '502000000000002', canned: canned('B'), openaiKey: null });
  ingress = await startIngress({ databaseUrl: db.url, prefix });
  inbound = new Queue(queueNames.inbound, { connection: connectionFromUrl(redisUrl()), prefix });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await inbound?.close();
  await ingress?.stop();
  await graph?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

describe('inbound fairness', () => {
  it("a quiet tenant's message queued behind 300 of another tenant's is answered before most of them", async () => {
    // worker stopped: A's burst, then B's one message, all through ingress
    const customers = Array.from({ length: 300 }, () => newCustomer());
    for (let i = 0; i < customers.length; i += 50) {
      const statuses = await Promise.all(customers.slice(i, i + 50).map((c) => postWebhook(ingress.url, textWebhook(A, c, 'hi').raw)));
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    expect(await postWebhook(ingress.url, textWebhook(B, newCustomer(), 'hi').raw)).toBe(200);
    await waitUntil(
      async () => {
        const c = await inbound.getJobCounts('prioritized', 'delayed');
        return (c.prioritized ?? 0) + (c.delayed ?? 0) === 301;
      },
      20_000,
      'all 301 inbound jobs queued',
    );
    // B's job has priority 1; A's jobs carry A's backlog (1…300)
    const jobs = await inbound.getJobs(['prioritized', 'delayed']);
    const bJob = jobs.find((j) => j.data.tenantId === B.id);
    expect(bJob?.opts.priority).toBe(1);
    expect(bJob?.opts.delay ?? 0).toBe(0);
    const aJobs = jobs.filter((j) => j.data.tenantId === A.id);
    expect(Math.max(...aJobs.map((j) => j.opts.priority ?? 0))).toBeGreaterThan(250);
    // paced (ingress pace.ts, defaults 80/s after a free backlog of 32): A's first 32 are ready,
    // the rest fall due 12.5 ms apart, the 300th about (300 - 32) / 80 s = 3.35 s after it arrived
    const delays = aJobs.map((j) => j.opts.delay ?? 0).sort((x, y) => x - y);
    expect(delays.filter((d) => d === 0)).toHaveLength(32);
    expect(delays.at(-1)).toBeGreaterThan(3_200);
    expect(delays.at(-1)).toBeLessThan(3_500);
    expect(new Set(delays.slice(32)).size).toBe(268); // each its own slot

    worker = await startWorker({
      sql: db.sql,
      redisUrl: redisUrl(),
      prefix,
      keyring,
      graph: createGraphClient({ baseUrl: graph.url, timeoutMs: 2_000 }),
      llm: null,
      transcribe: null,
      concurrency: 1,
      contextTtlMs: 60_000,
      maintenance: false,
      logger: createLogger('worker-fairness-test', 'silent'),
    });
    await graph.waitForSent(1, { phoneNumberId: B.phoneNumberId, timeoutMs: 30_000 });
    const aSentBeforeB = graph.sentTo(A.phoneNumberId).length;
    expect(aSentBeforeB).toBeLessThan(50);
    // and A is served in full; the backlogs empty as the jobs end
    await graph.waitForSent(300, { phoneNumberId: A.phoneNumberId, timeoutMs: 60_000 });
    const client = await redisOf(inbound);
    await waitUntil(async () => (await client.scard(`${prefix}:${queueNames.inbound}:fair:${A.id}`)) === 0, 10_000, "A's inbound backlog to empty");
    expect(await client.scard(`${prefix}:${queueNames.inbound}:fair:${B.id}`)).toBe(0);
  }, 120_000);
});
