/**
 * rate cap: one tenant capped at 80 messages/s is sent 2,000 messages (LLM simulator at 300 ms,
 * distinct customers). Figures at the Graph simulator: the sustained send rate (first to last
 * send) and the most sends that fell in any 1-second window. Targets: ≥ 72/s, ≤ 80.
 * A running deployment's worker is warm: before the burst, the tenant is sent BENCH_RATE_WARM
 * (40) messages (pool connections opened, statements prepared, tenant context cached, code
 * optimised), and the measurement starts once they are answered and the limiter's window is past.
 */
import { setupDeliveryBench } from './delivery-setup.ts';

export interface RateCapResult {
  cap: number;
  sent_per_s: number;
  max_in_any_1s: number;
}

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

export async function runRateCapBench(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<RateCapResult> {
  const cap = num('BENCH_RATE_CAP', 80);
  const messages = num('BENCH_RATE_MESSAGES', 2000);
  const env = await setupDeliveryBench({ llmLatencyMs: 300, workerConcurrency: num('BENCH_WORKER_CONCURRENCY', 64), workers: num('BENCH_WORKERS', 1) });
  try {
    const t = await env.addTenant('rate-cap', '700000000000001', cap);
    await env.startWorker();
    const warm = num('BENCH_RATE_WARM', 40);
    log(`rate cap: ${messages} messages to a tenant capped at ${cap}/s (LLM 300 ms), after ${warm} to warm up`);
    await (await env.prepareBurst(t, warm, 900_000, 'Habari! Do you sell guitar strings?')).go();
    await env.graph.waitForSent(warm, { phoneNumberId: t.phoneNumberId, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    const burst = await env.prepareBurst(t, messages, 0, 'Habari! Do you have the Yamaha C40 guitar?');
    const cpu0 = await env.workerCpuSeconds();
    const started = Date.now();
    await burst.go();
    log(`  posted in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for the sends`);
    await env.graph.waitForSent(warm + messages, { phoneNumberId: t.phoneNumberId, timeoutMs: Math.max(120_000, (messages / cap) * 3000) });
    const workerCpu = (await env.workerCpuSeconds()) - cpu0;
    const times = env.graph
      .sentTo(t.phoneNumberId)
      .map((r) => r.receivedAt)
      .filter((at) => at >= started)
      .sort((a, b) => a - b);
    const span = (times.at(-1)! - times[0]!) / 1000;
    const result: RateCapResult = {
      cap,
      sent_per_s: Math.round(((times.length - 1) / span) * 10) / 10,
      max_in_any_1s: env.graph.maxInAnyWindow(t.phoneNumberId, 1000),
    };
    const buckets: number[] = [];
    for (const x of times) buckets[Math.floor((x - started) / 5000)] = (buckets[Math.floor((x - started) / 5000)] ?? 0) + 1;
    log(`  sends per 5 s from the first post: ${Array.from(buckets, (v) => v ?? 0).join(' ')}`);
    log(`  ${times.length} sent over ${span.toFixed(1)} s (first send ${((times[0]! - started) / 1000).toFixed(1)} s after the first post)`);
    log(`  worker CPU: ${Math.round((workerCpu / messages) * 1e6)} µs per message (${((workerCpu / ((Date.now() - started) / 1000)) * 100).toFixed(0)}% of a core from the burst to its last send)`);
    return result;
  } finally {
    await env.close();
  }
}
