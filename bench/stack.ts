/**
 * The whole platform on this machine, as production runs it, for the end-to-end benchmarks and
 * the chaos suite: a migrated Postgres database of its own, optionally a redis-server of its
 * own (own port, appendonly), 20 seeded tenants with canned replies, and ingress and worker
 * processes started from their real entry points (`apps/<app>/src/main.ts`), configured only by
 * the environment. The load is posted over HTTP from this process; the apps are children.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { createSql, Keyring, migrate, putSecret, withTenant, type Sql } from '@alphadome/tenant-core';
import { buildTextWebhook } from '@alphadome/whatsapp';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));
export const STACK_APP_SECRET = 'stack-platform-app-secret-0123456789';
export const STACK_VERIFY_TOKEN = 'stack-verify-token';
/** A fixed keyring (two 32-byte keys), as TEST_KEYRING_SPEC: nothing real is ever sealed with it. */
export const STACK_KEYRING_SPEC = `bench1:${Buffer.alloc(32, 11).toString('base64')},bench0:${Buffer.alloc(32, 5).toString('base64')}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function envNumber(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return v;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitUntil<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// ---- processes --------------------------------------------------------------------------

export interface ChildApp {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** the last ~40 kB of stdout + stderr */
  output(): string;
  exited: Promise<void>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, SIGKILL after graceMs */
  stop(graceMs?: number): Promise<void>;
}

export function spawnChild(name: string, argv: readonly string[], env: Record<string, string>, opts: { inheritEnv?: boolean } = {}): ChildApp {
  const [cmd, ...args] = argv;
  const proc = spawn(cmd!, args, {
    cwd: repoRoot,
    env: opts.inheritEnv === false ? env : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const take = (b: Buffer) => {
    out += b.toString();
    if (out.length > 80_000) out = out.slice(-40_000);
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (alive()) proc.kill(signal);
    await exited;
  };
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    exited,
    alive,
    kill,
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A TypeScript entry point of the repo run the way production runs it (`node --import tsx …`). */
export function spawnApp(name: string, entry: string, env: Record<string, string>, nodeArgs: readonly string[] = []): ChildApp {
  return spawnChild(name, [process.execPath, ...nodeArgs, '--import', 'tsx', entry], {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/**
 * BENCH_CPU_PROF=1: node flags that make an app write a V8 CPU profile to bench/profiles/ when it
 * exits (on SIGTERM; open it in Chrome DevTools); otherwise none.
 */
export async function cpuProfNodeArgs(): Promise<string[]> {
  if (process.env.BENCH_CPU_PROF !== '1') return [];
  const profDir = fileURLToPath(new URL('./profiles/', import.meta.url));
  await mkdir(profDir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
}

/** CPU seconds (user + system) in a /proc/<pid>/stat line: utime, stime in clock ticks (100/s). */
export function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    return statCpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** VmRSS / VmHWM (peak) of a live process, in MB; null once it is gone. */
export async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (!rss || !hwm) return null;
    return { rssMb: Number(rss[1]) / 1024, peakMb: Number(hwm[1]) / 1024 };
  } catch {
    return null;
  }
}

// ---- Redis of our own -------------------------------------------------------------------

export interface RedisServer {
  url: string;
  port: number;
  child(): ChildApp;
  /** SIGTERM (Redis writes and fsyncs its AOF on the way down), then the same port and dir again */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(opts: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'alphadome-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    'redis-server',
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--dir', dir,
    '--logfile', '',
  ];
  let current: ChildApp;
  const launch = async () => {
    current = spawnChild('redis', args, {});
    await waitUntil(async () => {
      if (!current.alive()) throw new Error(`redis-server exited: ${current.output()}`);
      const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        r.disconnect();
      }
    }, 15_000, 'redis-server to answer');
  };
  await launch();
  return {
    url,
    port,
    child: () => current,
    async restart() {
      await current.stop(10_000);
      await launch();
    },
    async stop() {
      await current.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- Postgres database of our own --------------------------------------------------------

export interface StackDatabase {
  name: string;
  url: string;
  /** a superuser pool on the database (reads across tenants for the checks; RLS does not apply) */
  sql: Sql;
  drop(): Promise<void>;
}

export async function createStackDatabase(adminUrl: string, keyring: Keyring): Promise<StackDatabase> {
  const name = `alphadome_stack_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = createSql({ url, max: 4, name: 'alphadome-stack' });
  await migrate(sql, { keyring });
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 }).catch(() => {});
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/**
 * A deployment's history, so the planner sees what a running deployment's tables look like: a
 * fresh benchmark database is empty and never analyzed, so the plans each connection caches while
 * its first messages arrive (when every table has a handful of rows) scan a tenant's whole
 * message log by its tenant_id index instead of looking a row up by its key, and stay cached
 * for the whole run (autovacuum analyzes a new database only after its first minute). Measured
 * on rate_cap: Postgres CPU per message rose through the run as the tenant's log grew.
 * `tenants` inactive tenants (no phone number: nothing routes to them, the LLM output guard
 * ignores them) with `contacts` customers each, one conversation per customer and `messages`
 * handled messages, then ANALYZE. Runs as the owner (RLS does not apply).
 */
export async function seedHistory(sql: Sql, opts: { tenants?: number; contacts?: number; messages?: number } = {}): Promise<void> {
  const tenants = opts.tenants ?? 10;
  const contacts = opts.contacts ?? 300;
  const messages = opts.messages ?? 3000;
  for (let i = 0; i < tenants; i++) {
    const id = randomUUID();
    const slug = `history-${String(i + 1).padStart(2, '0')}`;
    await sql.begin(async (tx) => {
      await tx`insert into alphadome.bot_tenants (id, client_name, slug, is_active) values (${id}, ${`History ${i + 1}`}, ${slug}, false)`;
      await tx`insert into alphadome.bot_contacts (tenant_id, wa_id, name, last_inbound_at)
               select ${id}, '2557' || lpad(g::text, 8, '0'), 'Customer ' || g, now() - interval '1 day'
                 from generate_series(1, ${contacts}) g`;
      await tx`insert into alphadome.bot_conversations (tenant_id, contact_id, wa_id, last_message_at, last_inbound_at)
               select tenant_id, id, wa_id, last_inbound_at, last_inbound_at from alphadome.bot_contacts where tenant_id = ${id}`;
      await tx`
        with c as (select row_number() over (order by wa_id) - 1 as n, id, wa_id from alphadome.bot_conversations where tenant_id = ${id})
        insert into alphadome.bot_message_logs
          (tenant_id, conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, status, status_at,
           sent_by, received_at, handled_at, answer_path, created_at)
        select ${id}, c.id, case when g % 2 = 0 then 'inbound' else 'outbound' end,
               'wamid.HISTORY' || ${slug} || g, case when g % 2 = 0 then 'in:' else 'out:' end || ${slug} || g,
               c.wa_id, 'text', 'history message ' || g, case when g % 2 = 0 then 'received' else 'read' end, now(),
               case when g % 2 = 0 then 'customer' else 'bot' end, now() - interval '1 day',
               now() - interval '1 day', case when g % 2 = 0 then null else 'canned' end,
               now() - interval '1 day' + g * interval '1 second'
          from generate_series(1, ${messages}) g join c on c.n = g % ${contacts}`;
    });
  }
  await sql`analyze`;
}

// ---- tenants -----------------------------------------------------------------------------

export interface StackTenant {
  id: string;
  slug: string;
  phoneNumberId: string;
  displayPhone: string;
}

/** The canned reply every stack tenant has; a message containing the trigger gets it, no LLM. */
export const CANNED_TRIGGER = 'hours';
export const CANNED_TEXT = 'What are your opening hours today?';
/** A question no canned reply or FAQ entry answers: the LLM path. */
export const LLM_TEXT = 'Could you recommend a beginner instrument for my nephew?';

/**
 * `count` tenants with an encrypted token, settings, one FAQ entry and one canned reply each.
 * `debounceMs` (default 0) is written where the schema has the per-tenant reply debounce: every
 * stack message comes from a fresh customer, so a debounce window would only add its own length
 * to each measured latency.
 */
export async function seedTenants(sql: Sql, keyring: Keyring, count: number, opts: { debounceMs?: number } = {}): Promise<StackTenant[]> {
  const tenants: StackTenant[] = [];
  const [hasDebounce] = await sql<{ n: number }[]>`
    select count(*)::int as n from information_schema.columns
     where table_schema = 'alphadome' and table_name = 'bot_control_settings' and column_name = 'debounce_ms'`;
  for (let i = 0; i < count; i++) {
    const slug = `shop-${String(i + 1).padStart(2, '0')}`;
    const phoneNumberId = String(106540352242000 + i);
    const displayPhone = `+2547${String(10_000_000 + i).slice(-8)}`;
    const id = randomUUID();
    await sql`
      insert into alphadome.bot_tenants (id, client_name, slug, whatsapp_phone_number_id, display_phone, credential_status)
      values (${id}, ${`Shop ${i + 1}`}, ${slug}, ${phoneNumberId}, ${displayPhone}, 'valid')`;
    await withTenant(sql, id, async (tx) => {
      await putSecret(tx, keyring, id, 'whatsapp_token', `EAAstack${slug}${randomBytes(8).toString('hex')}`);
      await putSecret(tx, keyring, id, 'openai_key', `sk-stack-${slug}`);
      await tx`insert into alphadome.bot_control_settings (tenant_id, system_prompt, llm_timeout_ms, fallback_message)
               values (${id}, 'You answer for a music shop.', 5000, 'Thanks! A person from our team will get back to you shortly.')`;
      if ((hasDebounce?.n ?? 0) > 0) await tx`update alphadome.bot_control_settings set debounce_ms = ${opts.debounceMs ?? 0}`;
      await tx`insert into alphadome.bot_training_data (tenant_id, question, answer)
               values (${id}, 'Do you deliver to Mombasa?', 'Yes, delivery to Mombasa takes 2 days.')`;
      await tx`insert into alphadome.bot_templates (tenant_id, name, kind, triggers, body)
               values (${id}, 'hours', 'canned', ${[CANNED_TRIGGER, 'open']}, 'We are open 9:00-18:00, Monday to Saturday.')`;
    });
    tenants.push({ id, slug, phoneNumberId, displayPhone });
  }
  return tenants;
}

let customerSeq = 0;
const runTag = randomBytes(3).toString('hex');
/** A fresh customer per message (no debouncing, no pair limit between messages) and its wamid. */
export function nextMessage(t: StackTenant, text: string): { raw: string; wamid: string; from: string } {
  const n = ++customerSeq;
  const from = `2547${String(n).padStart(8, '0')}`;
  const wamid = `wamid.STACK${runTag}${n.toString(36).padStart(8, '0')}`;
  const raw = buildTextWebhook({
    phoneNumberId: t.phoneNumberId,
    displayPhoneNumber: t.displayPhone.replace(/\D/g, ''),
    from,
    wamid,
    text,
    name: `Customer ${n}`,
  });
  return { raw, wamid, from };
}

// ---- the apps ----------------------------------------------------------------------------

export interface AppEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  graphUrl: string;
  openaiUrl: string;
}

export async function startIngressApp(e: AppEnv, extra: Record<string, string> = {}): Promise<ChildApp & { url: string }> {
  const port = await freePort();
  const app = spawnApp('ingress', 'apps/ingress/src/main.ts', {
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    QUEUE_PREFIX: e.prefix,
    META_APP_SECRET: STACK_APP_SECRET,
    META_VERIFY_TOKEN: STACK_VERIFY_TOKEN,
    ENCRYPTION_KEYS: STACK_KEYRING_SPEC,
    INGRESS_PORT: String(port),
    HOST: '127.0.0.1',
    ...extra,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => {
    if (!app.alive()) throw new Error(`ingress exited: ${app.output()}`);
    return (await httpGet(`${url}/readyz`).catch(() => 0)) === 200;
  }, 30_000, 'ingress /readyz');
  return { ...app, url };
}

export async function startWorkerApp(name: string, e: AppEnv, extra: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<ChildApp> {
  const port = await freePort();
  const app = spawnApp(name, 'apps/worker/src/main.ts', {
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    QUEUE_PREFIX: e.prefix,
    ENCRYPTION_KEYS: STACK_KEYRING_SPEC,
    GRAPH_API_BASE_URL: e.graphUrl,
    OPENAI_BASE_URL: e.openaiUrl,
    OPENAI_API_KEY: 'sk-stack-platform',
    WORKER_PORT: String(port),
    HOST: '127.0.0.1',
    ...extra,
  }, nodeArgs);
  await waitUntil(async () => {
    if (!app.alive()) throw new Error(`${name} exited: ${app.output()}`);
    return (await httpGet(`http://127.0.0.1:${port}/readyz`).catch(() => 0)) === 200;
  }, 30_000, `${name} /readyz`);
  return app;
}

// ---- HTTP client (keep-alive) ---------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: 'GET', timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}

export const sign = (body: string | Buffer, secret = STACK_APP_SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** POST a signed webhook; resolves with the status (0 = connection failed). */
export function postWebhook(base: string, raw: string, secret = STACK_APP_SECRET): Promise<number> {
  return new Promise((resolve) => {
    const body = Buffer.from(raw);
    const req = request(
      `${base}/webhooks/whatsapp`,
      {
        agent,
        method: 'POST',
        timeout: 15_000,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-hub-signature-256': sign(body, secret) },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(0));
    req.end(body);
  });
}

/** As Meta does: retry until 200 (backing off), give up after `deadlineMs`. Returns the attempts made. */
export async function deliverWebhook(base: string, raw: string, deadlineMs = 120_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    const status = await postWebhook(base, raw);
    if (status === 200) return attempt;
    if (status !== 0 && status < 500) throw new Error(`webhook answered ${status}; Meta would not retry that`);
    if (Date.now() > until) throw new Error(`webhook not accepted within ${deadlineMs} ms (last status ${status})`);
    await sleep(Math.min(100 * attempt, 1_000));
  }
}

/**
 * Post `items` at a fixed overall rate (open loop: the schedule does not wait for answers),
 * at most `maxInFlight` at once. `post` returns when that item is accepted.
 */
export async function openLoop<T>(
  items: readonly T[],
  ratePerS: number,
  post: (item: T, index: number) => Promise<void>,
  opts: { maxInFlight?: number; onProgress?: (posted: number) => void | Promise<void> } = {},
): Promise<void> {
  const maxInFlight = opts.maxInFlight ?? 256;
  const started = performance.now();
  let inFlight = 0;
  const errors: unknown[] = [];
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < items.length; i++) {
    const due = started + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight >= maxInFlight) await Promise.race(pending);
    inFlight++;
    const p: Promise<void> = post(items[i]!, i)
      .catch((err: unknown) => void errors.push(err))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
    if (opts.onProgress) await opts.onProgress(i + 1);
  }
  await Promise.all(pending);
  if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
}

// ---- Redis helpers ------------------------------------------------------------------------

export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
