/**
 * End-to-end benchmark: webhook → ingress → Redis → worker (inbound, reply, send) → Graph
 * simulator, everything on this machine: ingress and two worker processes started from their
 * entry points, a redis-server of its own (appendonly everysec, as in docker-compose.yml), a
 * database of its own on the local Postgres, 20 tenants, canned replies (no LLM latency). The
 * load is posted from this process (the apps are children), every message from a fresh
 * customer, and its latency is the time from the start of its POST to the moment the Graph
 * simulator receives its send.
 *
 *   latency:    open loop at BENCH_E2E_RATE (200) messages/s for BENCH_E2E_LATENCY_S (15) s
 *   throughput: closed loop: BENCH_E2E_BURST (6,000) messages posted as fast as ingress takes
 *               them; messages/s = N / (last send − first POST)
 *   memory:     peak RSS (VmHWM) of each process; CPU seconds of each during the burst
 *
 * BENCH_WORKER_CONCURRENCY sets the workers' WORKER_CONCURRENCY (default 16 per queue).
 * BENCH_CPU_PROF=1 writes a V8 CPU profile of each worker to bench/profiles/ (on SIGTERM).
 */
import { readdir, readFile } from 'node:fs/promises';
import { Keyring } from '@alphadome/tenant-core';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import {
  CANNED_TEXT,
  cpuProfNodeArgs,
  cpuSeconds,
  createStackDatabase,
  deliverWebhook,
  dropPrefix,
  envNumber,
  memoryOf,
  nextMessage,
  openLoop,
  percentile,
  round,
  seedHistory,
  seedTenants,
  sleep,
  STACK_KEYRING_SPEC,
  startIngressApp,
  startRedisServer,
  statCpuSeconds,
  startWorkerApp,
  type ChildApp,
  type StackTenant,
} from './stack.ts';

export interface E2eBenchResult {
  messages_per_s: number;
  p50_ms: number;
  p99_ms: number;
  rate_for_latency: number;
  peak_rss_mb_ingress: number;
  peak_rss_mb_worker_1: number;
  peak_rss_mb_worker_2: number;
  peak_rss_mb_redis: number;
  [key: string]: number;
}

type Log = (line: string) => void;
const defaultLog: Log = (l) => process.stderr.write(`${l}\n`);

export interface Stack {
  tenants: StackTenant[];
  graph: GraphSimulator;
  openai: OpenAISimulator;
  ingress: ChildApp & { url: string };
  workers: ChildApp[];
  redis: ChildApp;
  close(): Promise<void>;
}

/** The whole platform with `workers` worker processes; close() stops everything and drops its data. */
export async function startStack(opts: { workers?: number; tenants?: number; log?: Log; workerEnv?: Record<string, string> } = {}): Promise<Stack> {
  const log = opts.log ?? defaultLog;
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const keyring = Keyring.fromSpec(STACK_KEYRING_SPEC);
  const prefix = `bench${Date.now().toString(36)}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  };
  try {
    const redis = await startRedisServer({ appendonly: true });
    cleanups.push(() => redis.stop());
    cleanups.push(() => dropPrefix(redis.url, prefix));
    const db = await createStackDatabase(adminUrl, keyring);
    cleanups.push(() => db.drop());
    const tenants = await seedTenants(db.sql, keyring, opts.tenants ?? 20);
    await seedHistory(db.sql);
    const graph = await startGraphSimulator({ seed: 1 });
    cleanups.push(() => graph.close());
    const openai = await startOpenAISimulator({ seed: 1 });
    cleanups.push(() => openai.close());
    const env = { databaseUrl: db.url, redisUrl: redis.url, prefix, graphUrl: graph.url, openaiUrl: openai.baseURL };
    const ingress = await startIngressApp(env);
    cleanups.push(() => ingress.stop());
    const nodeArgs = await cpuProfNodeArgs();
    const workers: ChildApp[] = [];
    for (let i = 1; i <= (opts.workers ?? 2); i++) {
      const tuning: Record<string, string> = process.env.BENCH_WORKER_CONCURRENCY ? { WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY } : {};
      const w = await startWorkerApp(`worker-${i}`, env, { ...tuning, ...opts.workerEnv }, nodeArgs);
      workers.push(w);
      cleanups.push(() => w.stop());
    }
    log(`stack: ingress ${ingress.url}, ${workers.length} workers, redis :${redis.port}, db ${db.name}, ${tenants.length} tenants`);
    return { tenants, graph, openai, ingress, workers, redis: redis.child(), close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface PhaseResult {
  latenciesMs: number[];
  firstPostAt: number;
  lastSendAt: number;
  postedInS: number;
}

/**
 * Post `count` messages (open loop at `rate`/s; Infinity = as fast as accepted) and wait for
 * every one's send at the simulator. Latency: POST start → simulator received the send.
 */
export async function runPhase(stack: Stack, count: number, rate: number, text: string, timeoutMs = 300_000): Promise<PhaseResult> {
  const msgs = Array.from({ length: count }, (_, i) => nextMessage(stack.tenants[i % stack.tenants.length]!, text));
  const postedAt = new Map<string, number>();
  const seen = new Map<string, number>();
  let scanned = stack.graph.received.length;
  const started = Date.now();
  await openLoop(
    msgs,
    Number.isFinite(rate) ? rate : 1e9,
    async (m) => {
      postedAt.set(m.from, Date.now());
      await deliverWebhook(stack.ingress.url, m.raw, 60_000);
    },
    { maxInFlight: Number.isFinite(rate) ? 256 : 64 },
  );
  const postedInS = (Date.now() - started) / 1000;
  const deadline = Date.now() + timeoutMs;
  while (seen.size < count) {
    const recs = stack.graph.received;
    for (; scanned < recs.length; scanned++) {
      const r = recs[scanned]!;
      if (r.kind !== 'send' || r.outcome !== 'ok') continue;
      const to = String(r.body.to);
      if (postedAt.has(to) && !seen.has(to)) seen.set(to, r.receivedAt);
    }
    if (seen.size >= count) break;
    if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${count} messages were sent within ${timeoutMs} ms`);
    await sleep(50);
  }
  const latenciesMs = [...seen.entries()].map(([to, at]) => at - postedAt.get(to)!).sort((a, b) => a - b);
  return {
    latenciesMs,
    firstPostAt: Math.min(...postedAt.values()),
    lastSendAt: Math.max(...seen.values()),
    postedInS,
  };
}

/** CPU seconds of every process named `name` (e.g. all postgres backends: shared with whatever else runs). */
export async function cpuSecondsByName(name: string): Promise<number> {
  let total = 0;
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
      total += statCpuSeconds(stat);
    } catch {
      /* gone */
    }
  }
  return total;
}

export async function runE2eBench(log: Log = defaultLog): Promise<E2eBenchResult> {
  const rate = envNumber('BENCH_E2E_RATE', 200);
  const latencyS = envNumber('BENCH_E2E_LATENCY_S', 15);
  const burst = envNumber('BENCH_E2E_BURST', 6_000);
  const stack = await startStack({ log });
  try {
    log('warm-up: 400 messages at 100/s');
    await runPhase(stack, 400, 100, CANNED_TEXT);

    log(`latency: ${rate} messages/s for ${latencyS} s`);
    const lat = await runPhase(stack, Math.round(rate * latencyS), rate, CANNED_TEXT);
    const p50 = percentile(lat.latenciesMs, 50);
    const p99 = percentile(lat.latenciesMs, 99);
    log(`  p50 ${p50} ms, p90 ${percentile(lat.latenciesMs, 90)} ms, p99 ${p99} ms, max ${lat.latenciesMs.at(-1)} ms`);

    log(`throughput: ${burst} messages as fast as ingress takes them`);
    const procs = [stack.ingress, ...stack.workers, stack.redis];
    const cpuBefore = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    const pgBefore = await cpuSecondsByName('postgres');
    const thr = await runPhase(stack, burst, Infinity, CANNED_TEXT);
    const cpuAfter = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    const pgAfter = await cpuSecondsByName('postgres');
    const wallS = (thr.lastSendAt - thr.firstPostAt) / 1000;
    const mps = burst / wallS;
    const cpu = procs.map((p, i) => `${p.name} ${round((cpuAfter[i]! - cpuBefore[i]!) / wallS * 100, 0)}%`).join(', ');
    log(`  ${round(mps, 1)} messages/s (all posted in ${round(thr.postedInS, 1)} s, last sent after ${round(wallS, 1)} s); ` +
      `p50 ${percentile(thr.latenciesMs, 50)} ms, p99 ${percentile(thr.latenciesMs, 99)} ms`);
    log(`  CPU over the burst (share of one core): ${cpu}, postgres (all backends on the server) ${round((pgAfter - pgBefore) / wallS * 100, 0)}%`);
    // CPU time per message is what the worker's code decides; the share of a core also depends on who else runs
    const workersCpuS = cpuAfter[1]! - cpuBefore[1]! + cpuAfter[2]! - cpuBefore[2]!;
    const workerCpuUs = (workersCpuS / burst) * 1e6;
    log(`  worker CPU per message (both workers, all stages): ${round(workerCpuUs, 0)} µs`);

    const mem = await Promise.all(procs.map((p) => memoryOf(p.pid)));
    const peak = (i: number) => round(mem[i]?.peakMb ?? NaN, 1);
    return {
      messages_per_s: round(mps, 1),
      p50_ms: p50,
      p99_ms: p99,
      rate_for_latency: rate,
      peak_rss_mb_ingress: peak(0),
      peak_rss_mb_worker_1: peak(1),
      peak_rss_mb_worker_2: peak(2),
      peak_rss_mb_redis: peak(3),
      cpu_pct_ingress: round((cpuAfter[0]! - cpuBefore[0]!) / wallS * 100, 0),
      cpu_pct_workers: round(workersCpuS / wallS * 100, 0),
      worker_cpu_us_per_msg: round(workerCpuUs, 0),
      cpu_pct_redis: round((cpuAfter[3]! - cpuBefore[3]!) / wallS * 100, 0),
      cpu_pct_postgres: round((pgAfter - pgBefore) / wallS * 100, 0),
    };
  } finally {
    await stack.close();
  }
}
