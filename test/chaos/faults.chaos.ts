/**
 * Fault suite (`npm run test:chaos`): CHAOS_MESSAGES (default 5,000) customer messages across 20
 * tenants, each answered by a canned reply (no LLM latency), through the real processes —
 * ingress + two workers (`apps/<app>/src/main.ts`), a redis-server of the test's own (own port,
 * appendonly yes), a Postgres database of its own, and the Graph simulator — while:
 *   (a) one of the two workers is killed with SIGKILL three times, and restarted each time;
 *   (b) Redis is restarted once (SIGTERM: it writes and fsyncs its AOF, then comes back);
 *   (c) the Graph simulator answers 130429 to 20 % of /messages calls, 5xx to 5 %, and holds
 *       2 % open until the worker's Graph client times out (the worker has no env knob for
 *       that timeout: it is packages/whatsapp's default, 10 s);
 *   (d) every Postgres connection to the test database is terminated once.
 * The load generator behaves like Meta: it retries a webhook until it is answered 200.
 *
 * The Graph simulator posts each accepted message's status webhooks (sent, delivered) to the
 * ingress, signed like Meta's and echoing the send's biz_opaque_callback_data, as Meta does.
 *
 * Afterwards every inbound message must have exactly one stored reply (an outbound row with
 * idempotency key `reply:<wamid>`) and at least one successful send at the simulator. The report
 * counts lost messages (no send; must be 0) and duplicate sends (must be ≤ the number of kills),
 * attributes each duplicate to the fault nearest before its first send, and, for anything lost,
 * shows where its jobs stopped.
 */
import { afterAll, expect, it } from 'vitest';
import postgres from 'postgres';
import { Queue } from 'bullmq';
import { inboundJobId, Keyring, queueNames, redisOptionsFromUrl, replyJobId, sendJobId } from '@alphadome/tenant-core';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import {
  CANNED_TEXT,
  createStackDatabase,
  deliverWebhook,
  dropPrefix,
  envNumber,
  nextMessage,
  openLoop,
  seedTenants,
  sleep,
  STACK_APP_SECRET,
  STACK_KEYRING_SPEC,
  startIngressApp,
  startRedisServer,
  startWorkerApp,
  type AppEnv,
  type ChildApp,
  type RedisServer,
  type StackDatabase,
} from '../../bench/stack.ts';

const MESSAGES = envNumber('CHAOS_MESSAGES', 5_000);
const RATE = envNumber('CHAOS_RATE', 100);
const TENANTS = 20;
const KILLS = 3;
const DRAIN_TIMEOUT_S = envNumber('CHAOS_DRAIN_TIMEOUT_S', 480);
/**
 * the drain also ends when nothing moved for this long (something is lost or stuck for good; a
 * live straggler moves at least every retry-backoff cap, 60 s), or for a third of it with no job
 * left in any queue
 */
const STUCK_S = envNumber('CHAOS_STUCK_S', 150);
/** which faults to inject besides Graph's (default all): for attributing duplicates, e.g. CHAOS_FAULTS=kill */
const FAULTS = new Set((process.env.CHAOS_FAULTS ?? 'kill,redis,pg').split(',').map((f) => f.trim()));
const prefix = `chaos${Date.now().toString(36)}`;

const workerTuning = {
  // a killed worker's jobs are taken over within lock + stalled interval (~20 s; production's
  // lock is BullMQ's 30 s), while a busy but live worker (2 cores shared by everything here)
  // renews its locks every 7.5 s. Shorter locks were missed by live workers on a loaded machine:
  // every miss counts toward BullMQ's maxStalledCount (1), and a send job stalled twice (a kill,
  // then a missed renewal) is failed for good unsent.
  WORKER_STALLED_INTERVAL_MS: '5000',
  WORKER_LOCK_DURATION_MS: '15000',
  WORKER_RETRY_BASE_MS: '100',
  // 27 % of Graph calls fail: 12 attempts make a run of failures until the last one negligible
  WORKER_SEND_ATTEMPTS: '12',
  LOG_LEVEL: 'warn',
};

const log = (line: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${line}\n`);

let redis: RedisServer | undefined;
let db: StackDatabase | undefined;
let graph: GraphSimulator | undefined;
let openai: OpenAISimulator | undefined;
const apps: ChildApp[] = [];
/** processes that died without the test killing them (a crash is a finding of its own) */
const crashes: string[] = [];
const deliberate = new Set<ChildApp>();
function watch(app: ChildApp): ChildApp {
  apps.push(app);
  void app.exited.then(() => {
    if (!deliberate.has(app) && !finished) {
      const line = `${app.name} exited by itself (code ${app.proc.exitCode}, signal ${app.proc.signalCode}); output tail:\n${app.output().slice(-4000)}`;
      crashes.push(line);
      process.stdout.write(`[chaos] CRASH ${line}\n`);
    }
  });
  return app;
}
let finished = false;
const queuesToClose: Queue[] = [];

afterAll(async () => {
  finished = true;
  for (const a of apps) await a.kill('SIGKILL');
  for (const q of queuesToClose) await q.close().catch(() => {});
  await graph?.close();
  await openai?.close();
  if (redis) {
    await dropPrefix(redis.url, prefix).catch(() => {});
    await redis.stop();
  }
  await db?.drop();
});

it(`${MESSAGES} messages across ${TENANTS} tenants survive worker kills, a Redis restart, Graph faults and a Postgres cut`, async () => {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set: the chaos suite needs a real Postgres superuser URL (it creates its own database)');
  const keyring = Keyring.fromSpec(STACK_KEYRING_SPEC);
  const t0 = Date.now();

  redis = await startRedisServer({ appendonly: true });
  db = await createStackDatabase(adminUrl, keyring);
  const tenants = await seedTenants(db.sql, keyring, TENANTS);
  graph = await startGraphSimulator({ seed: 9, recordBodies: true });
  openai = await startOpenAISimulator();
  const env: AppEnv = { databaseUrl: db.url, redisUrl: redis.url, prefix, graphUrl: graph.url, openaiUrl: openai.baseURL };

  const ingress = await startIngressApp(env, { LOG_LEVEL: 'warn' });
  watch(ingress);
  // Meta's status webhooks (sent, delivered) for every accepted message, echoing its callback data
  const displayPhones = new Map(tenants.map((t) => [t.phoneNumberId, t.displayPhone.replace(/\D/g, '')]));
  graph.setStatusWebhooks({
    url: `${ingress.url}/webhooks/whatsapp`,
    appSecret: STACK_APP_SECRET,
    displayPhoneNumber: (id) => displayPhones.get(id) ?? id,
  });
  watch(await startWorkerApp('worker-a', env, workerTuning));
  let workerB = watch(await startWorkerApp('worker-b', env, workerTuning));
  log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s: redis :${redis.port} (appendonly), db ${db.name}, prefix ${prefix}`);

  graph.setFaults({ rates: { '130429': 0.2, '5xx': 0.05, timeout: 0.02 } });

  const messages = Array.from({ length: MESSAGES }, (_, i) => nextMessage(tenants[i % TENANTS]!, CANNED_TEXT));
  const byCustomer = new Map(messages.map((m) => [m.from, m.wamid]));

  // the faults, at fixed shares of the messages posted
  const events: string[] = [];
  // when each fault hit, to attribute every duplicate send to the fault just before it
  const marks: { at: number; what: string }[] = [];
  const mark = (what: string) => marks.push({ at: Date.now(), what });
  const faultRuns: Promise<void>[] = [];
  let kills = 0;
  const allFaults: [number, string, () => Promise<void>][] = [
    [0.15, 'kill', killWorkerB],
    [0.3, 'redis restart', async () => {
      const started = Date.now();
      mark('redis');
      await redis!.restart();
      events.push(`redis restarted (down ${Date.now() - started} ms)`);
    }],
    [0.45, 'kill', killWorkerB],
    [0.6, 'postgres cut', async () => {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        mark('pg');
        const rows = await admin<{ ok: boolean }[]>`
          select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = ${db!.name} and pid <> pg_backend_pid()`;
        events.push(`postgres: ${rows.filter((r) => r.ok).length} connections terminated`);
      } finally {
        await admin.end();
      }
    }],
    [0.75, 'kill', killWorkerB],
  ];
  const faultKey = (name: string) => (name === 'kill' ? 'kill' : name === 'redis restart' ? 'redis' : 'pg');
  const schedule = allFaults.filter(([, name]) => FAULTS.has(faultKey(name)));
  async function killWorkerB(): Promise<void> {
    const n = ++kills;
    deliberate.add(workerB);
    await workerB.kill('SIGKILL');
    mark(`kill#${n}`);
    events.push(`worker-b SIGKILLed (#${n})`);
    workerB = watch(await startWorkerApp(`worker-b${n}`, env, workerTuning));
    events.push(`worker-b restarted (#${n})`);
  }

  let postAttempts = 0;
  const postStarted = Date.now();
  await openLoop(
    messages,
    RATE,
    async (m) => {
      const attempts = await deliverWebhook(ingress.url, m.raw, 180_000);
      postAttempts += attempts;
    },
    {
      maxInFlight: 64,
      onProgress: (posted) => {
        const next = schedule[0];
        if (next && posted >= Math.floor(next[0] * MESSAGES)) {
          schedule.shift();
          log(`${posted} posted: ${next[1]}`);
          faultRuns.push(next[2]().catch((err: unknown) => void events.push(`${next[1]} FAILED: ${(err as Error).message}`)));
        }
      },
    },
  );
  await Promise.all(faultRuns);
  log(`all ${MESSAGES} webhooks accepted in ${((Date.now() - postStarted) / 1000).toFixed(1)} s (${postAttempts - MESSAGES} retried POSTs); ${events.join('; ')}`);

  // wait until every reply is sent (or failed for good), then a little more for stragglers
  const pattern = `reply:wamid.STACK%`;
  const progress = async () => {
    const [r] = await db!.sql<{ stored: number; done: number }[]>`
      select count(*)::int as stored, count(*) filter (where wamid is not null or status = 'failed')::int as done
        from alphadome.bot_message_logs where direction = 'outbound' and idempotency_key like ${pattern}`;
    return r!;
  };
  const connection = { ...redisOptionsFromUrl(redis.url), maxRetriesPerRequest: 1 };
  const queues = (['inbound', 'reply', 'send', 'status'] as const).map((q) => new Queue(queueNames[q], { connection, prefix }));
  queuesToClose.push(...queues);
  /** jobs not finished yet (waiting, active, delayed, prioritized), all queues */
  const unfinished = async () => {
    let n = 0;
    for (const q of queues) {
      const c = await q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
      n += Object.values(c).reduce((a, b) => a + b, 0);
    }
    return n;
  };
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_S * 1000;
  let last = '';
  let lastChange = Date.now();
  let lastLogged = 0;
  for (;;) {
    const p = await progress().catch(() => ({ stored: -1, done: -1 }));
    const line = `replies stored ${p.stored}, sent or failed ${p.done}, successful Graph sends ${graph.sent().length}`;
    if (line !== last) {
      last = line;
      lastChange = Date.now();
      if (Date.now() - lastLogged > 5_000) {
        lastLogged = Date.now();
        log(line);
      }
    }
    if (p.done >= MESSAGES) break;
    const still = Date.now() - lastChange;
    const stuck = still > STUCK_S * 1000;
    const pending = stuck || still > (STUCK_S * 1000) / 3 ? await unfinished().catch(() => -1) : null;
    if (stuck || pending === 0) {
      log(`nothing moved for ${Math.round(still / 1000)} s (${pending} unfinished jobs): stopping the wait (${line})`);
      break;
    }
    if (apps.filter((a) => a.name.startsWith('worker') && a.alive()).length === 0) {
      log('no worker process is alive any more: stopping the wait');
      break;
    }
    if (Date.now() > drainDeadline) {
      log(`drain timed out after ${DRAIN_TIMEOUT_S} s: ${line}`);
      break;
    }
    await sleep(1_000);
  }
  const drainedAt = Date.now();
  // stragglers: a send still retrying, status webhooks on their way
  await sleep(5_000);
  for (let i = 0; i < 20 && graph.pendingStatusDeliveries() > 0; i++) await sleep(500);
  const elapsedS = (drainedAt - t0) / 1000;
  finished = true;

  // --- the report ---
  const inboundRows = await db.sql<{ wamid: string }[]>`
    select wamid from alphadome.bot_message_logs where direction = 'inbound' and wamid like 'wamid.STACK%'`;
  const replyRows = await db.sql<{ key: string; n: number; sent: number; failed: number }[]>`
    select idempotency_key as key, count(*)::int as n, count(wamid)::int as sent, count(*) filter (where status = 'failed')::int as failed
      from alphadome.bot_message_logs where direction = 'outbound' and idempotency_key like ${pattern} group by idempotency_key`;
  const inboundSet = new Set(inboundRows.map((r) => r.wamid));
  const replies = new Map(replyRows.map((r) => [r.key, r]));
  const sendsByCustomer = new Map<string, number>();
  const dupCause = new Map<string, number>();
  const dupDetails: string[] = [];
  const rel = (t: number) => `${((t - t0) / 1000).toFixed(1)}s`;
  const statusOf = new Map<string, string[]>();
  for (const st of graph.statusDeliveries) {
    const l = statusOf.get(st.wamid) ?? [];
    l.push(`${st.status}:${st.deliveredAt ? rel(st.deliveredAt) : st.gaveUp ? 'gave-up' : 'pending'}`);
    statusOf.set(st.wamid, l);
  }
  for (const s of graph.sent()) {
    const to = String(s.body.to);
    if (!byCustomer.has(to)) continue;
    const n = (sendsByCustomer.get(to) ?? 0) + 1;
    sendsByCustomer.set(to, n);
    if (n === 2) {
      const first = graph.sent().find((r) => r.body.to === to)!;
      const cause = [...marks].reverse().find((m) => m.at <= first.receivedAt + 2_000 && m.at >= first.receivedAt - 30_000);
      const key = cause ? cause.what : 'none';
      dupCause.set(key, (dupCause.get(key) ?? 0) + 1);
      dupDetails.push(
        `${byCustomer.get(to)}: 1st send at ${rel(first.receivedAt)} (statuses ${statusOf.get(first.messageId!)?.join(' ') ?? 'none'}), ` +
          `2nd at ${rel(s.receivedAt)}; nearest fault ${key}${cause ? ` at ${rel(cause.at)}` : ''}`,
      );
    }
  }
  let missingInbound = 0;
  let noReply = 0;
  let multiReply = 0;
  let failedReplies = 0;
  let lost = 0;
  let duplicates = 0;
  /** messages with no inbound row, no stored reply or no send, in order (the report shows where their jobs stopped) */
  const unaccounted: typeof messages = [];
  for (const m of messages) {
    const inbound = inboundSet.has(m.wamid);
    if (!inbound) missingInbound++;
    const r = replies.get(`reply:${m.wamid}`);
    if (!r) noReply++;
    else {
      if (r.n > 1) multiReply++;
      if (r.failed > 0) failedReplies++;
    }
    const sends = sendsByCustomer.get(m.from) ?? 0;
    if (sends === 0) lost++;
    else duplicates += sends - 1;
    if (!inbound || !r || sends === 0) unaccounted.push(m);
  }
  const calls = graph.received.filter((r) => r.kind === 'send');
  const faultCounts = {
    ok: calls.filter((r) => r.outcome === 'ok').length,
    e130429: calls.filter((r) => r.errorCode === 130429).length,
    e5xx: calls.filter((r) => r.outcome === 'error' && r.status >= 500).length,
    timeout: calls.filter((r) => r.outcome === 'timeout').length,
  };
  const statusPosted = graph.statusDeliveries.filter((x) => x.deliveredAt !== undefined).length;
  const report = {
    messages: MESSAGES,
    tenants: TENANTS,
    kills,
    lost,
    duplicate_sends: duplicates,
    duplicates_by_nearest_fault: Object.fromEntries(dupCause),
    missing_inbound_rows: missingInbound,
    messages_without_stored_reply: noReply,
    messages_with_more_than_one_stored_reply: multiReply,
    replies_failed_for_good: failedReplies,
    graph_calls: calls.length,
    status_webhooks_posted: `${statusPosted} of ${graph.statusDeliveries.length}`,
    graph_faults_injected: `${faultCounts.e130429} × 130429, ${faultCounts.e5xx} × 5xx, ${faultCounts.timeout} × timeout`,
    webhook_posts_retried: postAttempts - MESSAGES,
    elapsed_s: Math.round(elapsedS),
    processes_crashed: crashes.map((c) => c.split(';')[0]).join('; ') || 'none',
    events: events.join('; '),
  };
  log(`REPORT ${JSON.stringify(report, null, 2)}`);
  if (dupDetails.length > 0) log(`duplicates:\n  ${dupDetails.join('\n  ')}`);
  if (lost > 0 || noReply > 0 || missingInbound > 0) {
    // where did the lost messages' jobs stop?
    const tenantOf = new Map(messages.map((m, i) => [m.wamid, tenants[i % TENANTS]!]));
    const describe = async (queue: Queue, id: string) => {
      const job = await queue.getJob(id).catch(() => undefined);
      if (!job) return 'no job';
      const state = await job.getState().catch(() => '?');
      const since = job.processedOn ? `, last taken at ${rel(job.processedOn)}` : '';
      return `${state}, attempts ${job.attemptsMade}${since}${job.failedReason ? `, "${job.failedReason.slice(0, 200)}"` : ''}`;
    };
    const [qIn, qReply, qSend] = queues;
    const shown: string[] = [];
    for (const m of unaccounted.slice(0, 10)) {
      const t = tenantOf.get(m.wamid)!;
      shown.push(
        `${m.wamid} (${t.slug}): inbound row ${inboundSet.has(m.wamid)}, reply row ${replies.has(`reply:${m.wamid}`)}, sends ${sendsByCustomer.get(m.from) ?? 0}; ` +
          `inbound job ${await describe(qIn!, inboundJobId(t.id, m.wamid))}; reply job ${await describe(qReply!, replyJobId(t.id, m.wamid))}; ` +
          `send job ${await describe(qSend!, sendJobId(t.id, `reply:${m.wamid}`))}`,
      );
    }
    log(`lost messages (first ${shown.length}):\n  ${shown.join('\n  ')}`);
    for (const a of apps) log(`--- ${a.name} output tail ---\n${a.output().slice(-3000)}`);
  }

  if (FAULTS.has('kill')) expect(kills).toBe(KILLS);
  if (FAULTS.has('redis')) expect(events.some((e) => e.startsWith('redis restarted'))).toBe(true);
  if (FAULTS.has('pg')) expect(events.some((e) => /postgres: [1-9]\d* connections terminated/.test(e))).toBe(true);
  expect(faultCounts.e130429).toBeGreaterThan(0);
  expect(faultCounts.timeout).toBeGreaterThan(0);
  expect({ missingInbound, noReply, multiReply, lost }).toEqual({ missingInbound: 0, noReply: 0, multiReply: 0, lost: 0 });
  expect(crashes).toEqual([]);
  expect(duplicates).toBeLessThanOrEqual(kills);
}, 15 * 60_000);
