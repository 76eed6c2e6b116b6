import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { inboundJobId, statusJobId, redisOptionsFromUrl } from '@alphadome/tenant-core';
import { redisUrl } from '@alphadome/testkit/database';
import { fixtureBuffer } from '@alphadome/whatsapp/fixtures';
import { buildTextWebhook } from '@alphadome/whatsapp';
import type { IngressJob } from '../src/enqueue.ts';
import { addJobs } from '../src/queues.ts';
import { HandoffForwarder, metricsStats } from '../src/forwarder.ts';
import { appendToHandoff, decodeJobs, encodeJobs, handoffStreamKey } from '../src/handoff.ts';
import { createTenant, META_PHONE_NUMBER_ID, metricsText, metricValue, post, startHarness, type Harness } from './helpers.ts';

/**
 * The hand-off stream and its forwarder: what ingress acknowledged is in the stream, and every
 * entry ends up as jobs in BullMQ exactly once per job id, whatever stops in between.
 */
let h: Harness;
let raw: Redis;
let key: string;
let tenant: string;
const forwarders: HandoffForwarder[] = [];

function job(n: number, tenantId = tenant): IngressJob {
  const wamid = `wamid.fwd-${n}`;
  return {
    queue: 'inbound',
    name: 'message',
    jobId: inboundJobId(tenantId, wamid),
    data: { tenantId, phoneNumberId: META_PHONE_NUMBER_ID, wamid, from: '254700000001', fromBusiness: false, message: { id: wamid, type: 'text' }, receivedAt: Date.now() },
  };
}

function forwarder(opts: Partial<ConstructorParameters<typeof HandoffForwarder>[0]> = {}): HandoffForwarder {
  const f = new HandoffForwarder({
    redisUrl: redisUrl(),
    producer: h.deps.redis,
    queues: h.queues,
    key,
    logger: h.deps.logger,
    stats: metricsStats(h.deps.metrics),
    ...opts,
  });
  forwarders.push(f);
  return f;
}

/** One hand-off entry holding these jobs, as ingress writes it. */
const append = (jobs: IngressJob[]): Promise<unknown> => appendToHandoff(raw, key, [encodeJobs(jobs)]);

async function waitDrained(): Promise<void> {
  await expect.poll(async () => (await raw.xlen(key)) + Number(((await raw.xpending(key, 'forwarder').catch(() => [0])) as unknown[])[0] ?? 0), { timeout: 10_000, interval: 20 }).toBe(0);
}

beforeAll(async () => {
  h = await startHarness('forwarder', { handoff: 'stream', startForwarder: false });
  tenant = await createTenant(h.db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
  raw = new Redis(redisOptionsFromUrl(redisUrl()));
  key = handoffStreamKey(h.prefix);
});

afterEach(async () => {
  await Promise.all(forwarders.splice(0).map((f) => f.stop()));
});

beforeEach(async () => {
  await raw.del(key, `${key}:dead`);
  await h.queues.inbound.obliterate({ force: true });
  await h.queues.status.obliterate({ force: true });
});

afterAll(async () => {
  raw?.disconnect();
  await h?.close();
});

describe('hand-off stream', () => {
  it('a webhook acknowledged while no forwarder runs is in the stream, and becomes its jobs once one starts', async () => {
    expect((await post(h.app, fixtureBuffer('batch'))).statusCode).toBe(200);
    expect((await post(h.app, fixtureBuffer('statusSent'))).statusCode).toBe(200);
    expect(await raw.xlen(key)).toBeGreaterThan(0);
    expect(await h.queues.inbound.count()).toBe(0);
    const entries = await raw.xrange(key, '-', '+');
    const jobs = entries.flatMap(([, fields]) => decodeJobs(fields[fields.indexOf('jobs') + 1]!));
    // only the first WABA of the batch is a known number here: 2 messages, 2 + 1 statuses
    expect(jobs.filter((j) => j.queue === 'inbound')).toHaveLength(2);
    expect(jobs.filter((j) => j.queue === 'status')).toHaveLength(3);

    forwarder().start();
    await waitDrained();
    expect(await h.queues.inbound.count()).toBe(2);
    expect(await h.queues.status.count()).toBe(3);
  });

  it('duplicates in the stream (Meta redelivered) make one job per id', async () => {
    for (let i = 0; i < 5; i++) await append([job(1), job(2)]);
    forwarder().start();
    await waitDrained();
    const ids = (await h.queues.inbound.getJobs(['wait', 'prioritized'])).map((j) => j.id).sort();
    expect(ids).toEqual([inboundJobId(tenant, 'wamid.fwd-1'), inboundJobId(tenant, 'wamid.fwd-2')].sort());
  });

  it('a forwarder that died after reading (before adding) loses nothing: its entries are taken over', async () => {
    await append([job(10), job(11)]);
    await append([job(12)]);
    await raw.xgroup('CREATE', key, 'forwarder', '0', 'MKSTREAM');
    // the "dead" process read the entries and then vanished
    const read = await raw.xreadgroup('GROUP', 'forwarder', 'dead-process', 'COUNT', 10, 'STREAMS', key, '>');
    expect((read as [string, unknown[]][])[0]![1]).toHaveLength(2);
    forwarder({ claimIdleMs: 200, claimEveryMs: 100 }).start();
    await waitDrained();
    expect(await h.queues.inbound.count()).toBe(3);
  });

  it('a forwarder that died after adding (before acknowledging): taken over, still one job each', async () => {
    const jobs = [job(20), job(21)];
    await append(jobs);
    await raw.xgroup('CREATE', key, 'forwarder', '0', 'MKSTREAM');
    await raw.xreadgroup('GROUP', 'forwarder', 'dead-process', 'COUNT', 10, 'STREAMS', key, '>');
    await addJobs(h.queues, jobs);
    forwarder({ claimIdleMs: 200, claimEveryMs: 100 }).start();
    await waitDrained();
    expect((await h.queues.inbound.getJobs(['wait', 'prioritized'])).map((j) => j.id).sort()).toEqual(jobs.map((j) => j.jobId).sort());
  });

  it('an entry it cannot read goes to the dead-letter list (counted), and does not hold up the rest', async () => {
    await raw.xadd(key, '*', 'v', '1', 'jobs', 'not json');
    await raw.xadd(key, '*', 'v', '99', 'jobs', '[]');
    await append([job(30)]);
    const before = metricValue(await metricsText(h.app), 'alphadome_ingress_handoff_dead_letter_total');
    forwarder().start();
    await waitDrained();
    expect(await h.queues.inbound.count()).toBe(1);
    expect(await raw.llen(`${key}:dead`)).toBe(2);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_handoff_dead_letter_total')).toBe(before + 2);
  });

  it('stop({ drainMs }) forwards what is left before returning', async () => {
    const f = forwarder();
    f.start();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) await append([job(100 + i)]);
    await f.stop({ drainMs: 5_000 });
    expect(await raw.xlen(key)).toBe(0);
    expect(await h.queues.inbound.count()).toBe(20);
  });

  it('status jobs go to the status queue with their (wamid, status) id', async () => {
    const s: IngressJob = {
      queue: 'status',
      name: 'status',
      jobId: statusJobId(tenant, 'wamid.out-1', 'read'),
      data: { tenantId: tenant, phoneNumberId: META_PHONE_NUMBER_ID, wamid: 'wamid.out-1', status: 'read', recipientId: '254700000001', statusObj: {}, receivedAt: Date.now() },
    };
    await append([s]);
    forwarder().start();
    await waitDrained();
    const [st] = await h.queues.status.getJobs(['wait']);
    expect(st!.id).toBe(s.jobId);
    expect(st!.name).toBe('status');
  });

  it('the backlog and forwarding are visible in /metrics', async () => {
    await append([job(40)]);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_handoff_backlog_entries')).toBe(1);
    forwarder().start();
    await waitDrained();
    const text = await metricsText(h.app);
    expect(metricValue(text, 'alphadome_ingress_handoff_backlog_entries')).toBe(0);
    expect(metricValue(text, 'alphadome_ingress_handoff_forwarded_total', 'kind="message"')).toBeGreaterThan(0);
    expect(metricValue(text, 'alphadome_ingress_handoff_lag_seconds_count')).toBeGreaterThan(0);
  });
});

describe('forwarder process (as ingress runs it)', () => {
  it('killed mid-run, it is restarted and what was acknowledged meanwhile still becomes jobs', async () => {
    const live = await startHarness('forwarder-process', { db: h.db, handoff: 'stream' });
    try {
      const text = (wamid: string) =>
        buildTextWebhook({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: '15550783881', from: '254700000001', wamid, text: 'hi' });
      await expect.poll(() => live.deps.forwarder!.pid, { timeout: 10_000 }).toBeGreaterThan(0);
      expect((await post(live.app, text('wamid.fp-1'))).statusCode).toBe(200);
      await live.settle();
      const first = live.deps.forwarder!.pid!;
      // it runs at a lower CPU priority than the webhook path (nice 10)
      const stat = readFileSync(`/proc/${first}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])).toBe(10);
      process.kill(first, 'SIGKILL');
      // acknowledged while no forwarder runs: held in the stream
      for (let i = 2; i <= 6; i++) expect((await post(live.app, text(`wamid.fp-${i}`))).statusCode).toBe(200);
      await expect.poll(() => live.deps.forwarder!.pid, { timeout: 10_000 }).not.toBe(first);
      const jobs = await live.jobs('inbound');
      expect(jobs.map((j) => j.data.wamid).sort()).toEqual(['wamid.fp-1', 'wamid.fp-2', 'wamid.fp-3', 'wamid.fp-4', 'wamid.fp-5', 'wamid.fp-6']);
      // the forwarder reports its counts to ingress four times a second
      await expect.poll(async () => metricValue(await metricsText(live.app), 'alphadome_ingress_handoff_forwarded_total'), { timeout: 5_000 }).toBeGreaterThanOrEqual(5);
    } finally {
      await live.close();
    }
  });
});

describe('inbound fairness priority', () => {
  it("inbound jobs carry their tenant's backlog as priority: duplicates do not count, a tenant's own order holds", async () => {
    // tenant ids of their own: the other tests' jobs are never worked, so their ids stay in the tenant's backlog
    const a = `${tenant}-noisy`;
    const b = `${tenant}-quiet`;
    const backlog = `${h.prefix}:inbound:fair:${a}`;
    await raw.del(backlog, `${h.prefix}:inbound:fairfloor:${a}`, `${h.prefix}:inbound:fair:${b}`, `${h.prefix}:inbound:fairfloor:${b}`);
    const priorities = async () => new Map((await h.queues.inbound.getJobs(['prioritized'])).map((j) => [j.data.wamid as string, j.opts.priority]));
    await addJobs(h.queues, [job(100, a), job(101, a), job(102, a), job(103, a), job(104, a)]);
    await addJobs(h.queues, [job(105, a), job(200, b)]);
    let p = await priorities();
    expect([100, 101, 102, 103, 104].map((n) => p.get(`wamid.fwd-${n}`))).toEqual([5, 5, 5, 5, 5]);
    expect(p.get('wamid.fwd-105')).toBe(6);
    expect(p.get('wamid.fwd-200')).toBe(1); // the quiet tenant goes first
    // Meta redelivers: the same job id does not grow the backlog
    await addJobs(h.queues, [job(100, a), job(105, a)]);
    expect(await raw.scard(backlog)).toBe(6);
    // four of A's jobs end (the worker releases them): a new one still queues after A's older ones
    await raw.srem(backlog, ...[100, 101, 102, 103].map((n) => inboundJobId(a, `wamid.fwd-${n}`)));
    await addJobs(h.queues, [job(106, a)]);
    p = await priorities();
    expect(p.get('wamid.fwd-106')).toBe(6);
    // once A's backlog is empty, A starts again at 1
    await raw.del(backlog);
    await addJobs(h.queues, [job(107, a)]);
    expect((await priorities()).get('wamid.fwd-107')).toBe(1);
  });
});
