/**
 * Ingress benchmark: the same signed text webhook, the same load generator (autocannon, in a
 * process of its own), first against a bare Fastify route that answers 200 (the baseline),
 * then against the real ingress (`apps/ingress/src/main.ts`: signature + tenant routing +
 * durable hand-off in Redis), built and started as its package's `start` script starts it in
 * production, on a fresh, migrated database and a fresh queue prefix.
 *
 *   throughput: 50 connections, as fast as each server answers (after a warm-up)
 *   latency:    a fixed 1,000 requests/s against the ingress, p50 / p99
 *   memory:     the ingress process's peak RSS (VmHWM) over the whole run; the forwarder
 *               process it starts is reported on its own line
 *
 * Every request carries a unique wamid, so every one is a real enqueue. Ingress answers 200
 * once a webhook's jobs are in Redis: with INGRESS_HANDOFF=direct (its default) as BullMQ jobs;
 * with INGRESS_HANDOFF=stream in its hand-off stream, which its forwarder (a lower-priority
 * child process) moves into BullMQ; then the bench reports how long the forwarder took to
 * catch up after the saturating run. At the end the inbound queue must hold at least as many
 * jobs as the ingress answered 200.
 *
 * BENCH_LOADGEN=wrk measures the saturating runs (warm-ups and throughput) with wrk instead of
 * autocannon (bench/wrk-load.ts: a C load generator, the same unique signed requests, signed
 * in this process before each server starts, so the load generator takes far less of the 2
 * cores from the server under test); the fixed-rate latency run stays on autocannon.
 *
 * Progress and diagnostics (CPU per request of server and Redis) go to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { createSql, migrate, queueNames, redisOptionsFromUrl, withTenant } from '@alphadome/tenant-core';
import { buildTextWebhook } from '@alphadome/whatsapp';
import type { LoadResult, LoadSpec } from './load-generator.ts';
import { dropPrefix, statCpuSeconds } from './stack.ts';
import { findWrk, prepareWrkLoad, type PreparedWrkLoad } from './wrk-load.ts';

export interface IngressBenchResult {
  baseline_rps: number;
  ingress_rps: number;
  ratio: number;
  p50_ms: number;
  p99_ms: number;
  peak_rss_mb: number;
}

const root = fileURLToPath(new URL('../', import.meta.url));
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

const SECRET = 'bench-platform-app-secret';
const PHONE_NUMBER_ID = '106540352242922';
const PLACEHOLDER = 'WAMIDXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

/** A text webhook of about 499 bytes, as Meta sends it, with a per-request wamid slot. */
function payloadTemplate(): string {
  const build = (text: string): string =>
    buildTextWebhook({
      phoneNumberId: PHONE_NUMBER_ID,
      displayPhoneNumber: '15550783881',
      from: '254711000111',
      name: 'Otieno Odhiambo',
      wamid: `wamid.${PLACEHOLDER}`,
      timestamp: 1750300001,
      text,
    });
  let text = 'Habari! Is the Yamaha C40 in stock?';
  while (build(text).length < 499) text += '!';
  return build(text);
}

export async function runIngressBench(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<IngressBenchResult> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const duration = num('BENCH_DURATION_S', 10);
  const warmup = num('BENCH_WARMUP_S', 3);
  const connections = num('BENCH_CONNECTIONS', 50);
  const rate = num('BENCH_RATE', 1000);
  const loadgen = process.env.BENCH_LOADGEN || 'autocannon';
  if (loadgen !== 'autocannon' && loadgen !== 'wrk') throw new Error(`BENCH_LOADGEN must be autocannon or wrk, not ${loadgen}`);
  if (loadgen === 'wrk') await findWrk();

  const dbName = `alphadome_bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-ingress-${randomBytes(4).toString('hex')}`;
  const template = payloadTemplate();
  log(
    `ingress bench: payload ${Buffer.byteLength(template)} bytes, ${connections} connections, ${duration} s per run, fixed rate ${rate}/s, ` +
      `hand-off ${process.env.INGRESS_HANDOFF || 'direct'}, throughput measured with ${loadgen}`,
  );

  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const children: ChildProcess[] = [];
  const wrkRuns = new Map<string, PreparedWrkLoad>();
  try {
    await admin.unsafe(`create database ${dbName}`);
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    const dbUrl = u.toString();
    const sql = createSql({ url: dbUrl, max: 2, name: 'alphadome-bench' });
    try {
      await migrate(sql);
      const id = randomUUID();
      await withTenant(sql, id, (tx) =>
        tx`insert into alphadome.bot_tenants (id, slug, client_name, whatsapp_phone_number_id, is_active)
           values (${id}, 'kassangas', 'Kassangas Music Shop', ${PHONE_NUMBER_ID}, true)`.then(() => undefined),
      );
    } finally {
      await sql.end();
    }

    const load = (url: string, runId: string, opts: { durationS: number; overallRate?: number; connections?: number }) =>
      runLoad({
        url,
        template,
        placeholder: PLACEHOLDER,
        secret: SECRET,
        connections: opts.connections ?? connections,
        durationS: opts.durationS,
        runId,
        ...(opts.overallRate !== undefined ? { overallRate: opts.overallRate } : {}),
      });

    /** BENCH_LOADGEN=wrk: signs the saturating runs' requests now, before the server they load starts. */
    const prepare = async (...runIds: Array<[runId: string, durationS: number]>): Promise<void> => {
      if (loadgen !== 'wrk') return;
      const t0 = Date.now();
      let n = 0;
      for (const [runId, durationS] of runIds) {
        const prepared = await prepareWrkLoad({ template, placeholder: PLACEHOLDER, secret: SECRET, connections, durationS, runId });
        wrkRuns.set(runId, prepared);
        n += prepared.requests;
      }
      log(`  ${n} requests for runs ${runIds.map(([r]) => r).join(', ')} signed beforehand in ${Date.now() - t0} ms`);
    };
    /** A saturating run: `connections` connections, as fast as the server answers. */
    const saturate = async (url: string, runId: string, durationS: number): Promise<LoadResult> => {
      if (loadgen === 'autocannon') return load(url, runId, { durationS });
      const prepared = wrkRuns.get(runId);
      if (!prepared) throw new Error(`run ${runId}: its wrk requests were not prepared`);
      try {
        return await prepared.run(url);
      } finally {
        wrkRuns.delete(runId);
        await prepared.dispose();
      }
    };

    // Baseline
    await prepare(['bw', warmup], ['bm', duration]);
    const basePort = await freePort();
    const base = startChild([process.execPath, '--import', 'tsx', here('./bare-fastify.ts')], { PORT: String(basePort) });
    children.push(base);
    const baseUrl = `http://127.0.0.1:${basePort}/webhooks/whatsapp`;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${basePort}/`).catch(() => null)) !== null, 20_000, 'baseline server');
    await saturate(baseUrl, 'bw', warmup);
    const baseCpu0 = await cpuSample(base.pid!, redisUrl);
    const baseline = await saturate(baseUrl, 'bm', duration);
    const baseCpu1 = await cpuSample(base.pid!, redisUrl);
    log(`baseline: ${baseline.rps.toFixed(0)} req/s (p50 ${baseline.p50_ms} ms, p99 ${baseline.p99_ms} ms, non-2xx ${baseline.non2xx}, errors ${baseline.errors})`);
    log(
      `  cpu during the run: server ${(((baseCpu1.ingress - baseCpu0.ingress) / baseline.durationS) * 100).toFixed(0)}% of a core ` +
        `(${(((baseCpu1.ingress - baseCpu0.ingress) / baseline.total) * 1e6).toFixed(0)} µs/request)`,
    );
    await stopChild(base);

    // Ingress, started as its package's start script starts it in production (see ingressCommand)
    await prepare(['iw', warmup], ['im', duration]);
    const port = await freePort();
    const start = await ingressCommand();
    log(`ingress started as: ${start.argv.map((a) => (a === process.execPath ? 'node' : a)).join(' ')} (in ${start.cwd.replace(root, '') || '.'})`);
    const ingress = startChild(start.argv, {
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      META_APP_SECRET: SECRET,
      META_VERIFY_TOKEN: 'bench-verify-token',
      QUEUE_PREFIX: prefix,
      INGRESS_PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    }, start.cwd);
    children.push(ingress);
    const ingressBase = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${ingressBase}/readyz`).catch(() => null))?.status === 200, 30_000, 'ingress /readyz');
    const url = `${ingressBase}/webhooks/whatsapp`;
    const runs: LoadResult[] = [];
    runs.push(await saturate(url, 'iw', warmup));
    const cpuBefore = await cpuSample(ingress.pid!, redisUrl);
    const measured = await saturate(url, 'im', duration);
    const cpuAfter = await cpuSample(ingress.pid!, redisUrl);
    runs.push(measured);
    log(`ingress: ${measured.rps.toFixed(0)} req/s (p50 ${measured.p50_ms} ms, p99 ${measured.p99_ms} ms, non-2xx ${measured.non2xx}, errors ${measured.errors})`);
    {
      const n = measured.total;
      const ing = cpuAfter.ingress - cpuBefore.ingress;
      const red = cpuAfter.redis - cpuBefore.redis;
      log(
        `  cpu during the run: ingress ${((ing / measured.durationS) * 100).toFixed(0)}% of a core (${((ing / n) * 1e6).toFixed(0)} µs/request), ` +
          `redis ${((red / measured.durationS) * 100).toFixed(0)}% (${((red / n) * 1e6).toFixed(0)} µs/request)`,
      );
    }
    // The forwarder (a lower-priority child process) may trail a saturating run: the hand-off
    // stream holds what was acknowledged but is not in BullMQ yet. Report how long it takes.
    {
      const backlog = await handoffBacklog(redisUrl, prefix);
      const t0 = Date.now();
      await waitFor(async () => (await handoffBacklog(redisUrl, prefix)) === 0, 120_000, 'hand-off stream drain');
      log(`  hand-off backlog after the run: ${backlog} stream entries, forwarded into BullMQ within ${Date.now() - t0} ms`);
    }
    const fixed = await load(url, 'ir', { durationS: duration, overallRate: rate, connections: 20 });
    runs.push(fixed);
    log(`ingress at ${rate}/s: ${fixed.rps.toFixed(0)} req/s, p50 ${fixed.p50_ms} ms, p90 ${fixed.p90_ms} ms, p99 ${fixed.p99_ms} ms, max ${fixed.max_ms} ms (non-2xx ${fixed.non2xx})`);
    const peakRssMb = await peakRss(ingress.pid!);
    const forwarderPids = await childPids(ingress.pid!);
    for (const pid of forwarderPids) log(`  forwarder process ${pid}: peak RSS ${(await peakRss(pid)).toFixed(1)} MB (not included in peak_rss_mb)`);
    await waitFor(async () => (await handoffBacklog(redisUrl, prefix)) === 0, 120_000, 'hand-off stream drain');

    // Every 200 must be a job in Redis (unique wamids: one job each).
    const acknowledged = runs.reduce((s, r) => s + r.ok2xx, 0);
    const jobs = await countJobs(redisUrl, prefix);
    log(`durability check: ${acknowledged} acknowledged, ${jobs} inbound jobs in Redis`);
    if (jobs < acknowledged) throw new Error(`ingress acknowledged ${acknowledged} webhooks but only ${jobs} jobs are in Redis`);
    await stopChild(ingress);

    return {
      baseline_rps: Math.round(baseline.rps),
      ingress_rps: Math.round(measured.rps),
      ratio: round(measured.rps / baseline.rps, 3),
      p50_ms: fixed.p50_ms,
      p99_ms: fixed.p99_ms,
      peak_rss_mb: round(peakRssMb, 1),
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    for (const prepared of wrkRuns.values()) await prepared.dispose().catch(() => {});
    await dropPrefix(redisUrl, prefix);
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
  }
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * How production starts ingress: the `start` script of apps/ingress/package.json (compiled by
 * its `build` script: no TypeScript loader in the process), run here without npm in between so
 * the measured process is ingress itself. The bench builds first, so it measures the source as
 * it is. BENCH_INGRESS_START=source runs its `start:source` script instead (`node --import tsx
 * src/main.ts`, for comparison). BENCH_NODE_ARGS adds node flags, e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/prof".
 */
async function ingressCommand(): Promise<{ argv: string[]; cwd: string }> {
  const cwd = `${root}apps/ingress/`;
  const pkg = JSON.parse(await readFile(`${cwd}package.json`, 'utf8')) as { scripts: Record<string, string> };
  const source = process.env.BENCH_INGRESS_START === 'source';
  if (!source) {
    await new Promise<void>((resolve, reject) => {
      const build = spawn(process.execPath, ['build.mjs'], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
      build.once('error', reject);
      build.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ingress build exited ${code}`))));
    });
  }
  const script = pkg.scripts[source ? 'start:source' : 'start'];
  const words = script?.split(' ').filter(Boolean) ?? [];
  if (words[0] !== 'node') throw new Error(`apps/ingress start script is not "node …": ${script}`);
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return { argv: [process.execPath, ...extra, ...words.slice(1)], cwd };
}

function startChild(argv: string[], env: Record<string, string>, cwd: string = root): ChildProcess {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) process.stderr.write(`child ${argv.join(' ')} exited ${code}: ${stderr}\n`);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', here('./load-generator.ts'), JSON.stringify(spec)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadResult);
      } catch {
        reject(new Error(`load generator printed no result: ${out} ${err}`));
      }
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds used so far by a local process (/proc) and by the Redis server (INFO cpu). */
async function cpuSample(pid: number, redisUrl: string): Promise<{ ingress: number; redis: number }> {
  const ingress = statCpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8'));
  const redis = new Redis(redisOptionsFromUrl(redisUrl));
  try {
    const info = await redis.info('cpu');
    const get = (k: string): number => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return { ingress, redis: get('used_cpu_user') + get('used_cpu_sys') };
  } finally {
    redis.disconnect();
  }
}

/** Entries in the hand-off stream plus entries read but not yet acknowledged by a forwarder. */
async function handoffBacklog(url: string, prefix: string): Promise<number> {
  const redis = new Redis(redisOptionsFromUrl(url));
  try {
    const key = `${prefix}:ingress-handoff`;
    const length = await redis.xlen(key);
    const pending = await redis.xpending(key, 'forwarder').then(
      (r) => Number((r as unknown[])[0] ?? 0),
      () => 0,
    );
    return length + pending;
  } finally {
    redis.disconnect();
  }
}

async function childPids(pid: number): Promise<number[]> {
  try {
    return (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Peak resident set size of a process (Linux: VmHWM), in MB. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error('no VmHWM in /proc status');
  return Number(m[1]) / 1024;
}

async function countJobs(url: string, prefix: string): Promise<number> {
  const redis = new Redis(redisOptionsFromUrl(url));
  try {
    // inbound jobs carry their tenant's backlog as priority, so they wait in `prioritized`;
    // beyond a tenant's free backlog they are paced (ingress pace.ts): `delayed`
    const [wait, prioritized, delayed, active, completed, failed] = await Promise.all([
      redis.llen(`${prefix}:${queueNames.inbound}:wait`),
      redis.zcard(`${prefix}:${queueNames.inbound}:prioritized`),
      redis.zcard(`${prefix}:${queueNames.inbound}:delayed`),
      redis.llen(`${prefix}:${queueNames.inbound}:active`),
      redis.zcard(`${prefix}:${queueNames.inbound}:completed`),
      redis.zcard(`${prefix}:${queueNames.inbound}:failed`),
    ]);
    return wait + prioritized + delayed + active + completed + failed;
  } finally {
    redis.disconnect();
  }
}


function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
