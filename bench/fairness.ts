/**
 * fairness: tenant A bursts 5,000 messages at once while tenant B sends 2 messages/s. B's p99
 * webhook-to-send latency (POST to ingress → its reply arriving at the Graph simulator) is
 * measured alone first, then during A's burst; target: with the burst ≤ 2 × alone. Also A's
 * drain time (burst start → A's last send; A is capped at 80/s like any number).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Queue, type Job } from 'bullmq';
import { inboundJobId, queueNames, redisOptionsFromUrl, replyJobId, sendJobId } from '@alphadome/tenant-core';
import { customer, percentile, setupDeliveryBench, type BenchTenant, type DeliveryBench } from './delivery-setup.ts';

export interface FairnessResult {
  b_p99_alone_ms: number;
  b_p99_with_burst_ms: number;
  ratio: number;
  a_drain_s: number;
}

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type QueueKind = 'inbound' | 'reply' | 'send';
const QUEUE_KINDS = ['inbound', 'reply', 'send'] as const;
type Queues = Record<QueueKind, Queue>;

/** The bench's three queues, opened on first use (by sampler or traceStages) and closed once by close(). */
function benchQueues(env: DeliveryBench): { get(): Queues; close(): Promise<void> } {
  let qs: Queues | undefined;
  return {
    get() {
      if (!qs) {
        const connection = { ...redisOptionsFromUrl(env.redisUrl), maxRetriesPerRequest: null };
        qs = Object.fromEntries(QUEUE_KINDS.map((n) => [n, new Queue(queueNames[n], { connection, prefix: env.prefix })])) as Queues;
      }
      return qs;
    },
    async close() {
      const open = qs;
      qs = undefined;
      if (open) await Promise.all(Object.values(open).map((q) => q.close()));
    },
  };
}

/** Each customer's first successful send to `b` at the Graph simulator: when it was received. */
function firstSendAt(env: DeliveryBench, b: BenchTenant): Map<string, number> {
  const sentAt = new Map<string, number>();
  for (const r of env.graph.sentTo(b.phoneNumberId)) if (r.body.to && !sentAt.has(r.body.to)) sentAt.set(r.body.to, r.receivedAt);
  return sentAt;
}

/** B's wamid per customer (the trace reads each message's jobs by their ids). */
const wamidOf = new Map<string, string>();

/** B sends 2/s for `seconds`; resolves with the post time of each customer's message. */
async function trickle(env: DeliveryBench, b: BenchTenant, base: number, seconds: number): Promise<Map<string, number>> {
  const posted = new Map<string, number>();
  const start = Date.now();
  const n = Math.round(seconds * 2);
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = start + i * 500 - Date.now();
    if (wait > 0) await sleep(wait);
    const from = customer(i, base);
    const wamid = `wamid.BENCHB${randomBytes(10).toString('hex')}`;
    wamidOf.set(from, wamid);
    all.push(env.post(b, from, `Do you bake birthday cakes? #${i}`, wamid).then((at) => void posted.set(from, at)));
  }
  await Promise.all(all);
  return posted;
}

/**
 * Where B's time goes: per message, the stage timestamps from its BullMQ jobs (timestamp =
 * created, processedOn = last start, finishedOn) and the Graph simulator (mark-read = the reply
 * job reached the LLM step; send received), as deltas from the previous stage.
 */
async function traceStages(env: DeliveryBench, qs: Queues, b: BenchTenant, posted: Map<string, number>, log: (l: string) => void): Promise<void> {
  const readAt = new Map<string, number>();
  for (const r of env.graph.received) {
    if (r.phoneNumberId !== b.phoneNumberId) continue;
    if (r.kind === 'read' && r.body.message_id && !readAt.has(r.body.message_id)) readAt.set(r.body.message_id, r.receivedAt);
  }
  const sentAt = firstSendAt(env, b);
  const stages = ['post→inQ', 'inQ→inStart', 'inRun', 'inEnd→rpQ', 'rpQ→rpStart', 'rpStart→read', 'read→rpEnd', 'rpEnd→sdQ', 'sdQ→sdStart', 'sdStart→graph', 'total'] as const;
  const rows: Record<string, number>[] = [];
  const firstPost = Math.min(...posted.values());
  for (const [from, at] of posted) {
    const wamid = wamidOf.get(from)!;
    const [inJ, rpJ, sdJ] = (await Promise.all([
      qs.inbound.getJob(inboundJobId(b.id, wamid)),
      qs.reply.getJob(replyJobId(b.id, wamid)),
      qs.send.getJob(sendJobId(b.id, `reply:${wamid}`)),
    ])) as (Job | undefined)[];
    if (!inJ || !rpJ || !sdJ) continue;
    const g = sentAt.get(from) ?? NaN;
    const rd = readAt.get(wamid) ?? NaN;
    rows.push({
      'post→inQ': inJ.timestamp - at,
      'inQ→inStart': inJ.processedOn! - inJ.timestamp,
      inRun: inJ.finishedOn! - inJ.processedOn!,
      'inEnd→rpQ': rpJ.timestamp - inJ.finishedOn!,
      'rpQ→rpStart': rpJ.processedOn! - rpJ.timestamp,
      'rpStart→read': rd - rpJ.processedOn!,
      'read→rpEnd': rpJ.finishedOn! - rd,
      'rpEnd→sdQ': sdJ.timestamp - rpJ.finishedOn!,
      'sdQ→sdStart': sdJ.processedOn! - sdJ.timestamp,
      'sdStart→graph': g - sdJ.processedOn!,
      total: g - at,
      posted: at - firstPost,
    });
  }
  log(`  B's stages with the burst (ms; ${rows.length} messages; negative = overlap of a job's end and the next job's add):`);
  log(`    ${'stage'.padEnd(14)} ${'p50'.padStart(6)} ${'p90'.padStart(6)} ${'max'.padStart(6)}`);
  for (const st of stages) {
    const v = rows.map((r) => r[st]!).filter((x) => Number.isFinite(x));
    log(`    ${st.padEnd(14)} ${String(percentile(v, 50)).padStart(6)} ${String(percentile(v, 90)).padStart(6)} ${String(Math.max(...v)).padStart(6)}`);
  }
  const worst = [...rows].sort((x, y) => y.total! - x.total!).slice(0, 3);
  for (const w of worst) log(`    worst (posted at +${w.posted} ms): ${stages.map((s) => `${s} ${w[s]}`).join(', ')}`);
  log(`    B's total by post time (s: ms): ${[...rows].sort((x, y) => x.posted! - y.posted!).map((r) => `${(r.posted! / 1000).toFixed(1)}:${r.total}`).join(' ')}`);
  // each queue's completed jobs, fetched once: for the dump (all three) and the overtaking check (reply, send)
  const dumpTo = process.env.BENCH_FAIR_DUMP;
  const completed: Partial<Record<QueueKind, Job[]>> = {};
  for (const name of dumpTo ? QUEUE_KINDS : (['reply', 'send'] as const)) completed[name] = await qs[name].getJobs(['completed'], 0, -1);
  if (dumpTo) {
    const dump: Record<string, unknown[]> = {};
    for (const name of QUEUE_KINDS) {
      // as getJobs(['completed', 'failed']) lists them: completed, then failed
      dump[name] = [...completed[name]!, ...(await qs[name].getJobs(['failed'], 0, -1))].map((j) => ({
        b: j.data.tenantId === b.id,
        ts: j.timestamp,
        on: j.processedOn,
        fin: j.finishedOn,
        p: j.opts.priority,
        att: j.attemptsStarted,
        d: (j.data as { delivery?: { delays?: number } }).delivery?.delays,
      }));
    }
    dump.graph = env.graph.received.map((r) => ({ k: r.kind, b: r.phoneNumberId === b.phoneNumberId, at: r.receivedAt }));
    await writeFile(dumpTo, JSON.stringify(dump));
  }
  // did other jobs overtake B's in the reply/send queues? (jobs started while B's waited)
  for (const name of ['reply', 'send'] as const) {
    const all = completed[name]!.filter((j) => j.processedOn);
    const mine = all.filter((j) => j.data.tenantId === b.id);
    const others = all.filter((j) => j.data.tenantId !== b.id).sort((x, y) => x.processedOn! - y.processedOn!);
    const overtook: number[] = [];
    const prios: number[] = [];
    for (const j of mine) {
      const o = others.filter((x) => x.processedOn! > j.timestamp && x.processedOn! < j.processedOn!);
      overtook.push(o.length);
      prios.push(j.opts.priority ?? 0);
    }
    log(`    ${name}: B's priorities ${Math.min(...prios)}..${Math.max(...prios)}; other jobs started while a B job waited: p50 ${percentile(overtook, 50)}, max ${Math.max(...overtook)}; B attempts ${[...new Set(mine.map((j) => j.attemptsStarted ?? j.attemptsMade))].join(',')}`);
  }
}

/** Every `everyMs` during the burst: queue depths, the worker's event-loop lag, Postgres sessions. */
function sampler(env: DeliveryBench, queues: Queues, log: (l: string) => void, everyMs = 2000): () => Promise<void> {
  const qs = QUEUE_KINDS.map((n) => [n, queues[n]] as const);
  const t0 = Date.now();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      await sleep(everyMs);
      try {
        const counts = await Promise.all(qs.map(async ([n, q]) => {
          const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
          return `${n} w${(c.waiting ?? 0) + (c.prioritized ?? 0)}/a${c.active}/d${c.delayed}`;
        }));
        let lag = '';
        if (env.workerMetricsUrl) {
          const text = await (await fetch(env.workerMetricsUrl)).text();
          const get = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
          lag = `loop lag p99 ${Math.round(get('nodejs_eventloop_lag_p99_seconds') * 1000)} ms max ${Math.round(get('nodejs_eventloop_lag_max_seconds') * 1000)} ms`;
        }
        const [pg] = await env.sql<{ active: number; idle_tx: number; total: number }[]>`
          select count(*) filter (where state = 'active')::int as active,
                 count(*) filter (where state like 'idle in transaction%')::int as idle_tx, count(*)::int as total
            from pg_stat_activity where application_name = 'alphadome-worker' and datname = current_database()`;
        log(`  t+${((Date.now() - t0) / 1000).toFixed(0)}s ${counts.join(' | ')} | ${lag} | pg ${pg?.active}/${pg?.idle_tx}/${pg?.total}`);
      } catch (err) {
        log(`  sampler: ${(err as Error).message}`);
      }
    }
  })();
  return async () => {
    stop = true;
    await loop;
  };
}

async function latencies(env: DeliveryBench, b: BenchTenant, posted: Map<string, number>): Promise<number[]> {
  await env.graph.waitFor((recs) => {
    const got = new Set(recs.filter((r) => r.outcome === 'ok' && r.kind === 'send' && r.phoneNumberId === b.phoneNumberId).map((r) => r.body.to));
    return [...posted.keys()].every((c) => got.has(c));
  }, 120_000);
  const sentAt = firstSendAt(env, b);
  return [...posted].map(([c, at]) => sentAt.get(c)! - at);
}

export async function runFairnessBench(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<FairnessResult> {
  const burst = num('BENCH_FAIR_BURST', 5000);
  const aloneS = num('BENCH_FAIR_ALONE_S', 15);
  const withS = num('BENCH_FAIR_WITH_S', 20);
  const env = await setupDeliveryBench({ llmLatencyMs: 300, workerConcurrency: num('BENCH_WORKER_CONCURRENCY', 64), workers: num('BENCH_WORKERS', 1) });
  const queues = benchQueues(env);
  try {
    const a = await env.addTenant('tenant-a', '710000000000001', 80);
    const b = await env.addTenant('tenant-b', '710000000000002', 80);
    await env.startWorker();
    // warm-up (connections, caches)
    await latencies(env, b, await trickle(env, b, 900_000, 2));

    log(`fairness: B alone at 2/s for ${aloneS} s`);
    const alone = await latencies(env, b, await trickle(env, b, 100_000, aloneS));

    log(`fairness: A bursts ${burst} messages while B keeps 2/s for ${withS} s`);
    const aBurst = await env.prepareBurst(a, burst, 500_000, 'Habari! Is the Yamaha C40 in stock?');
    const burstStart = Date.now();
    const stopSampler = process.env.BENCH_FAIR_SAMPLE ? sampler(env, queues.get(), log) : null;
    const aPosting = aBurst
      .go()
      .then(() => log(`  A's ${burst} webhooks posted in ${((Date.now() - burstStart) / 1000).toFixed(1)} s`));
    const withBurstPosted = await trickle(env, b, 200_000, withS);
    const withBurst = await latencies(env, b, withBurstPosted);
    await aPosting;
    await env.graph.waitForSent(burst, { phoneNumberId: a.phoneNumberId, timeoutMs: 300_000 });
    const aLast = Math.max(...env.graph.sentTo(a.phoneNumberId).map((r) => r.receivedAt));
    await stopSampler?.();
    await traceStages(env, queues.get(), b, withBurstPosted, log);

    const p99Alone = percentile(alone, 99);
    const p99With = percentile(withBurst, 99);
    log(`  B alone: p50 ${percentile(alone, 50)} ms, p99 ${p99Alone} ms (${alone.length} messages)`);
    log(`  B with the burst: p50 ${percentile(withBurst, 50)} ms, p99 ${p99With} ms (${withBurst.length} messages)`);
    log(`  A: max ${env.graph.maxInAnyWindow(a.phoneNumberId, 1000)} sends in any 1 s window`);
    return {
      b_p99_alone_ms: p99Alone,
      b_p99_with_burst_ms: p99With,
      ratio: Math.round((p99With / p99Alone) * 100) / 100,
      a_drain_s: Math.round((aLast - burstStart) / 100) / 10,
    };
  } finally {
    await queues.close();
    await env.close();
  }
}
