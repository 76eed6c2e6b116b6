/**
 * Shared set-up of the delivery benchmarks (rate-cap.ts, fairness.ts): a fresh migrated
 * database and queue prefix, the Graph and OpenAI simulators in this process, the ingress and
 * the worker as child processes configured by the environment only (as production runs them).
 * Webhooks go to the real ingress; what the bench measures arrives at the Graph simulator.
 * BENCH_CPU_PROF=1 writes a V8 CPU profile of the ingress and of each worker to bench/profiles/
 * (as e2e.ts does for its workers; see cpuProfNodeArgs in stack.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createSql, createTenant, Keyring, migrate, putSecret, withTenant, type Sql } from '@alphadome/tenant-core';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import { cpuProfNodeArgs, cpuSeconds, dropPrefix, freePort, repoRoot, seedHistory, spawnChild } from './stack.ts';
import { BENCH_APP_SECRET, postWebhook } from './webhook-post.ts';

export { customer } from './webhook-post.ts';

export const KEYS = `bench1:${Buffer.alloc(32, 9).toString('base64')}`;

export interface BenchTenant {
  id: string;
  slug: string;
  phoneNumberId: string;
  token: string;
}

export interface DeliveryBench {
  graph: GraphSimulator;
  openai: OpenAISimulator;
  sql: Sql;
  ingressUrl: string;
  addTenant(slug: string, phoneNumberId: string, ratePerSecond: number): Promise<BenchTenant>;
  /** POST one signed text webhook (`wamid` random unless given); resolves with the time it was sent */
  post(t: BenchTenant, from: string, text: string, wamid?: string): Promise<number>;
  /**
   * `count` webhooks to `t` from customers base+0…, `text` with ` #i` appended, from a child
   * process: resolves once it has started and signed them all; `go` posts them, 100 in flight
   */
  prepareBurst(t: BenchTenant, count: number, base: number, text: string): Promise<{ go(): Promise<void> }>;
  startWorker(): Promise<void>;
  /** the worker's /metrics URL once started (Prometheus text: event-loop lag, job durations…) */
  workerMetricsUrl: string | null;
  /** CPU seconds (user + system) the worker processes have used so far */
  workerCpuSeconds(): Promise<number>;
  redisUrl: string;
  prefix: string;
  close(): Promise<void>;
}

const log = (l: string) => process.stderr.write(`${l}\n`);

/**
 * Tuning knobs set in the bench's environment go to the apps too (experiments): INGRESS_HANDOFF,
 * INGRESS_TENANT_PACE_*, WORKER_*, SEND_*, DATABASE_POOL_MAX, DATABASE_TENANT_SHARE. The rest of
 * the bench's environment does not: the apps are configured by what setupDeliveryBench sets.
 */
const PASSED_ON = /^(INGRESS_HANDOFF|INGRESS_TENANT_PACE_.*|WORKER_.*|SEND_.*|DATABASE_POOL_MAX|DATABASE_TENANT_SHARE)$/;

function passedOn(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => PASSED_ON.test(e[0]) && !!e[1]));
}

/** `env` wins over what passedOn() takes from the bench's environment; `nodeArgs` go before the entry (cpuProfNodeArgs). */
function startChild(entry: string, env: Record<string, string>, nodeArgs: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      ...passedOn(),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-10_000)));
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) log(`${entry} exited ${code}: ${err}`);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function setupDeliveryBench(opts: { llmLatencyMs: number; workerConcurrency: number; workers: number }): Promise<DeliveryBench> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dbName = `alphadome_bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-dl-${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  const dbUrl = u.toString();
  const sql = createSql({ url: dbUrl, max: 4, name: 'alphadome-bench' });
  const keyring = Keyring.fromSpec(KEYS);
  await migrate(sql, { keyring });
  await seedHistory(sql);

  const graph = await startGraphSimulator({ seed: 1 });
  const openai = await startOpenAISimulator({
    seed: 1,
    faults: { latencyMs: opts.llmLatencyMs },
    respond: () => 'Asante! Yes, we have it in stock; delivery takes 2 days.',
  });
  const env = {
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    ENCRYPTION_KEYS: KEYS,
    META_APP_SECRET: BENCH_APP_SECRET,
    META_VERIFY_TOKEN: 'bench-verify-token',
    GRAPH_API_BASE_URL: graph.url,
    OPENAI_BASE_URL: openai.baseURL,
    OPENAI_API_KEY: 'sk-bench-platform',
    HOST: '127.0.0.1',
  };
  const nodeArgs = await cpuProfNodeArgs();
  const ingressPort = await freePort();
  const children: ChildProcess[] = [];
  const workers: ChildProcess[] = [];
  const ingress = startChild('apps/ingress/src/main.ts', { ...env, INGRESS_PORT: String(ingressPort) }, nodeArgs);
  children.push(ingress);
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  await waitHttp(`${ingressUrl}/healthz`, 30_000);

  const bench: DeliveryBench = {
    graph,
    openai,
    sql,
    ingressUrl,
    workerMetricsUrl: null,
    redisUrl,
    prefix,
    async addTenant(slug, phoneNumberId, ratePerSecond) {
      const t = await createTenant(sql, { slug, clientName: slug, phoneNumberId });
      const token = `EAAbench${slug}${randomBytes(12).toString('hex')}`;
      await withTenant(sql, t.id, async (tx) => {
        await putSecret(tx, keyring, t.id, 'whatsapp_token', token);
        await tx`update alphadome.bot_tenants set credential_status = 'valid' where id = ${t.id}`;
        // no debounce: the bench measures delivery, not the wait for a customer's next message
        await tx`update alphadome.bot_control_settings set send_rate_per_second = ${ratePerSecond}, debounce_ms = 0, llm_timeout_ms = 10000`;
      });
      return { id: t.id, slug, phoneNumberId, token };
    },
    post: (t, from, text, wamid) => postWebhook(ingressUrl, t.phoneNumberId, from, text, wamid),
    async prepareBurst(t, count, base, text) {
      // from a process of its own: a load generator sharing the simulators' event loop delays
      // their answers (Meta's and OpenAI's servers do not wait on whoever sends the webhooks);
      // it starts and signs everything before `go`, so only the posting overlaps the measurement
      const child = spawnChild(
        'burst-poster',
        [process.execPath, '--import', 'tsx', 'bench/burst-poster.ts'],
        { PATH: process.env.PATH ?? '', BURST: JSON.stringify({ ingressUrl, phoneNumberId: t.phoneNumberId, count, base, text }) },
        { inheritEnv: false },
      );
      const failed = () => new Error(`burst poster exited ${child.proc.exitCode}: ${child.output().slice(-4_000)}`);
      const deadline = Date.now() + 60_000;
      while (!child.output().includes('ready\n')) {
        if (!child.alive()) throw failed();
        if (Date.now() > deadline) {
          await child.kill();
          throw new Error('burst poster not ready within 60 s');
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return {
        async go() {
          child.proc.kill('SIGUSR2');
          await child.exited;
          if (child.proc.exitCode !== 0) throw failed();
        },
      };
    },
    async startWorker() {
      // BENCH_WORKERS worker processes share the queues (a deployment scales workers out)
      for (let i = 0; i < opts.workers; i++) {
        const port = await freePort();
        const worker = startChild('apps/worker/src/main.ts', { ...env, WORKER_PORT: String(port), WORKER_CONCURRENCY: String(opts.workerConcurrency) }, nodeArgs);
        children.push(worker);
        workers.push(worker);
        await waitHttp(`http://127.0.0.1:${port}/readyz`, 30_000);
        bench.workerMetricsUrl ??= `http://127.0.0.1:${port}/metrics`;
      }
    },
    async workerCpuSeconds() {
      let sum = 0;
      for (const w of workers) sum += await cpuSeconds(w.pid!);
      return sum;
    },
    async close() {
      for (const c of children.reverse()) await stopChild(c);
      await graph.close();
      await openai.close();
      await sql.end({ timeout: 5 });
      await dropPrefix(redisUrl, prefix);
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    },
  };
  return bench;
}

export const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

