/**
 * fairness: tenant A bursts 5,000 messages at once while tenant B sends 2 messages/s. B's p99
 * webhook-to-send latency (POST to ingress → its reply arriving at the Graph simulator) is
 * measured alone first, then during A's burst; target: with the burst ≤ 2 × alone. Also A's
 * drain time (burst start → A's last send; A is capped at 80/s like any number).
 */
import { customer, percentile, pool, setupDeliveryBench, type BenchTenant, type DeliveryBench } from './delivery-setup.ts';

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
    all.push(env.post(b, from, `Do you bake birthday cakes? #${i}`).then((at) => void posted.set(from, at)));
  }
  await Promise.all(all);
  return posted;
}

async function latencies(env: DeliveryBench, b: BenchTenant, posted: Map<string, number>): Promise<number[]> {
  await env.graph.waitFor((recs) => {
    const got = new Set(recs.filter((r) => r.outcome === 'ok' && r.kind === 'send' && r.phoneNumberId === b.phoneNumberId).map((r) => r.body.to));
    return [...posted.keys()].every((c) => got.has(c));
  }, 120_000);
  const sentAt = new Map<string, number>();
  for (const r of env.graph.sentTo(b.phoneNumberId)) if (r.body.to && !sentAt.has(r.body.to)) sentAt.set(r.body.to, r.receivedAt);
  return [...posted].map(([c, at]) => sentAt.get(c)! - at);
}

export async function runFairnessBench(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<FairnessResult> {
  const burst = num('BENCH_FAIR_BURST', 5000);
  const aloneS = num('BENCH_FAIR_ALONE_S', 15);
  const withS = num('BENCH_FAIR_WITH_S', 20);
  const env = await setupDeliveryBench({ llmLatencyMs: 300, workerConcurrency: num('BENCH_WORKER_CONCURRENCY', 64) });
  try {
    const a = await env.addTenant('tenant-a', '710000000000001', 80);
    const b = await env.addTenant('tenant-b', '710000000000002', 80);
    await env.startWorker();
    // warm-up (connections, caches)
    await latencies(env, b, await trickle(env, b, 900_000, 2));

    log(`fairness: B alone at 2/s for ${aloneS} s`);
    const alone = await latencies(env, b, await trickle(env, b, 100_000, aloneS));

    log(`fairness: A bursts ${burst} messages while B keeps 2/s for ${withS} s`);
    const burstStart = Date.now();
    const aPosting = pool(
      Array.from({ length: burst }, (_, i) => i),
      100,
      async (i) => {
        await env.post(a, customer(i, 500_000), `Habari! Is the Yamaha C40 in stock? #${i}`);
      },
    ).then(() => log(`  A's ${burst} webhooks posted in ${((Date.now() - burstStart) / 1000).toFixed(1)} s`));
    const withBurst = await latencies(env, b, await trickle(env, b, 200_000, withS));
    await aPosting;
    await env.graph.waitForSent(burst, { phoneNumberId: a.phoneNumberId, timeoutMs: 300_000 });
    const aLast = Math.max(...env.graph.sentTo(a.phoneNumberId).map((r) => r.receivedAt));

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
    await env.close();
  }
}
