import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, type GraphSimulator } from '@alphadome/testkit';
import { createGraphClient } from '@alphadome/whatsapp';
import { createWorkerQueues, type WorkerQueues } from '../src/queues.ts';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import {
  APP_SECRET,
  createTenant,
  dropPrefix,
  keyring,
  newCustomer,
  outboundRow,
  queueOutbound,
  sleep,
  startIngress,
  startWorkerProcess,
  uniquePrefix,
  waitUntil,
  type ChildApp,
  type Ingress,
  type TestTenant,
} from './harness.ts';

/**
 * At most one copy of a message toward Meta when the sender's own record of a send is what
 * fails (send.ts, status.ts): the Graph call succeeded but recording its wamid failed; the worker
 * died with the call in flight; the call timed out after Meta had taken it. Real Postgres, Redis,
 * ingress (child process), worker processes killed with SIGKILL, and the Graph simulator posting
 * Meta's status webhooks (signed, echoing biz_opaque_callback_data) to the ingress.
 */
const ATTEMPT_WAIT_MS = 4_000;

let db: TestDatabase;
let graph: GraphSimulator;
let ingress: Ingress;
let queues: WorkerQueues;
let T: TestTenant;
const prefix = uniquePrefix('sa');
const children: ChildApp[] = [];
let worker: WorkerHandle | null = null;

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator({ seed: 17 });
  T = await createTenant(db.sql, { slug: 'tamu-tunes', name: 'Tamu Tunes', phoneNumberId: '601000000000001' });
  ingress = await startIngress({ databaseUrl: db.url, prefix });
  queues = createWorkerQueues({ redisUrl: redisUrl(), prefix, retry: { replyAttempts: 3, sendAttempts: 8, retryBaseMs: 100 } });
}, 60_000);

afterEach(async () => {
  await worker?.close();
  worker = null;
  for (const c of children.splice(0)) await c.kill('SIGKILL');
  graph.reset();
  graph.setStatusWebhooks(null);
});

afterAll(async () => {
  await queues?.close();
  await ingress?.stop();
  await graph?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

/** The send worker of these tests, in this process: status jobs too, so status webhooks are applied. */
async function startSendWorker(opts: { graphTimeoutMs?: number } = {}): Promise<WorkerHandle> {
  worker = await startWorker({
    sql: db.sql,
    redisUrl: redisUrl(),
    prefix,
    keyring,
    graph: createGraphClient({ baseUrl: graph.url, timeoutMs: opts.graphTimeoutMs ?? 5_000 }),
    llm: null,
    transcribe: null,
    queues: ['send', 'status'],
    concurrency: 4,
    stalledIntervalMs: 500,
    lockDurationMs: 1_500,
    retry: { retryBaseMs: 100, sendAttempts: 8 },
    delivery: { attemptWaitMs: ATTEMPT_WAIT_MS },
    maintenance: false,
    logger: createLogger('send-attempts-test', 'silent'),
  });
  return worker;
}

/** A worker process as production runs it, to be killed with SIGKILL mid-call. */
function workerProcess(): ChildApp {
  const child = startWorkerProcess(
    { databaseUrl: db.url, prefix, graphUrl: graph.url },
    { WORKER_STALLED_INTERVAL_MS: '500', WORKER_LOCK_DURATION_MS: '1500', LOG_LEVEL: 'warn' },
  );
  children.push(child);
  return child;
}

function statusWebhooksToIngress(): void {
  graph.setStatusWebhooks({
    url: `${ingress.url}/webhooks/whatsapp`,
    appSecret: APP_SECRET,
    statuses: ['sent', 'delivered'],
    delayMs: { min: 20, max: 80 },
    displayPhoneNumber: () => T.displayPhone.replace(/\D/g, ''),
  });
}

let seq = 0;
/** A stored reply to `to` waiting to be sent, and its send job (harness.ts queueOutbound). */
function queueReply(to: string): Promise<{ key: string; rowId: string; jobId: string }> {
  const key = `test:attempts:${++seq}:${to}`;
  return queueOutbound(db.sql, queues, T.id, { key, waId: to, body: `reply ${seq}` });
}

const outbound = (key: string) => outboundRow(db.sql, T.id, key);

async function messagesOut(): Promise<number> {
  const rows = await withTenant(db.sql, T.id, (tx) => tx<{ n: number }[]>`
    select coalesce(sum(messages_out), 0)::int as n from alphadome.bot_usage_daily`);
  return rows[0]?.n ?? 0;
}

const sentTo = (to: string) => graph.sent().filter((r) => r.body.to === to);

async function jobState(jobId: string): Promise<{ state: string; attemptsMade: number; returnvalue: unknown }> {
  const job = await queues.send.getJob(jobId);
  if (!job) return { state: 'missing', attemptsMade: 0, returnvalue: null };
  return { state: await job.getState(), attemptsMade: job.attemptsMade, returnvalue: job.returnvalue };
}

it('Meta accepted the send but recording its wamid failed for good: the retried job records it, never sends again', async () => {
  await startSendWorker();
  const usageBefore = await messagesOut();
  const to = newCustomer();
  // the application role may not update message rows: every write of the wamid fails (a real
  // Postgres error, longer than the in-process retries of the write last)
  await db.sql`revoke update on alphadome.bot_message_logs from alphadome_app`;
  let granted = false;
  try {
    const { key, jobId } = await queueReply(to);
    await waitUntil(() => sentTo(to).length === 1, 15_000, 'the one send');
    await waitUntil(async () => (await jobState(jobId)).attemptsMade >= 1, 20_000, 'the send job to fail once (recording failed)');
    expect((await outbound(key)).wamid).toBeNull();
    await db.sql`grant update on alphadome.bot_message_logs to alphadome_app`;
    granted = true;
    await waitUntil(async () => (await jobState(jobId)).state === 'completed', 30_000, 'the retried send job to complete');
    expect(await jobState(jobId)).toMatchObject({ returnvalue: 'already_sent' });
    expect((await outbound(key)).wamid).toBe(sentTo(to)[0]!.messageId);
    await sleep(300);
    expect(sentTo(to)).toHaveLength(1);
    expect(await messagesOut()).toBe(usageBefore + 1);
  } finally {
    if (!granted) await db.sql`grant update on alphadome.bot_message_logs to alphadome_app`;
  }
}, 60_000);

it('a worker killed while Meta takes the message: the status webhook records the wamid, the retried job does not send again', async () => {
  statusWebhooksToIngress();
  // the answer comes 1.5 s after the request: the worker is killed in between
  graph.setFaults({ latencyMs: 1_500 }, { phoneNumberId: T.phoneNumberId });
  const doomed = workerProcess();
  const to = newCustomer();
  const { key, rowId, jobId } = await queueReply(to);
  await waitUntil(() => graph.answering >= 1, 30_000, 'the Graph call to be in flight');
  await doomed.kill('SIGKILL');
  await startSendWorker();

  await waitUntil(async () => (await outbound(key)).wamid !== null, 20_000, 'the wamid to be recorded');
  await waitUntil(async () => (await jobState(jobId)).state === 'completed', 20_000, 'the retried send job to complete');
  const sends = sentTo(to);
  expect(sends).toHaveLength(1);
  expect((await outbound(key)).wamid).toBe(sends[0]!.messageId);
  expect(await jobState(jobId)).toMatchObject({ returnvalue: 'already_sent' });
  // what Meta echoed: the row the send was for
  expect(graph.statusDeliveries.find((d) => d.wamid === sends[0]!.messageId)).toMatchObject({ callbackData: `ad1:${rowId}`, lastStatus: 200 });
  await sleep(ATTEMPT_WAIT_MS);
  expect(sentTo(to)).toHaveLength(1);
  expect((await outbound(key)).status).toMatch(/^(sent|delivered)$/);
}, 90_000);

it('a worker killed while its call hangs and Meta never took the message: sent again once, after waiting for a status that never came', async () => {
  statusWebhooksToIngress();
  graph.failNext(1, 'timeout', { phoneNumberId: T.phoneNumberId });
  const doomed = workerProcess();
  const to = newCustomer();
  const { key, jobId } = await queueReply(to);
  await waitUntil(() => graph.received.some((r) => r.outcome === 'timeout' && r.body.to === to), 30_000, 'the Graph call to hang');
  const hungAt = graph.received.find((r) => r.outcome === 'timeout' && r.body.to === to)!.receivedAt;
  // the wait runs from the attempt's start, which the marker records before the call is made (a
  // loaded machine can take a few hundred ms between the two): read it before the kill
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  const marker = await redis.get(`${prefix}:send-attempt:${jobId}`).finally(() => redis.disconnect());
  expect(marker).toMatch(/^p \d+$/);
  const startedAt = Number(marker!.slice(2));
  expect(startedAt).toBeLessThanOrEqual(hungAt);
  await doomed.kill('SIGKILL');
  await startSendWorker();

  await waitUntil(async () => (await jobState(jobId)).state === 'completed', 30_000, 'the send job to complete');
  const sends = sentTo(to);
  expect(sends).toHaveLength(1);
  expect(sends[0]!.receivedAt - startedAt).toBeGreaterThanOrEqual(ATTEMPT_WAIT_MS);
  expect((await outbound(key)).wamid).toBe(sends[0]!.messageId);
  expect(await jobState(jobId)).toMatchObject({ returnvalue: 'sent' });
}, 90_000);

it('a call that timed out after Meta took the message: the retry waits for the status webhook instead of sending again', async () => {
  statusWebhooksToIngress();
  graph.setFaults({ latencyMs: 1_200 }, { phoneNumberId: T.phoneNumberId });
  await startSendWorker({ graphTimeoutMs: 400 });
  const to = newCustomer();
  const { key, jobId } = await queueReply(to);
  await waitUntil(async () => (await jobState(jobId)).state === 'completed', 30_000, 'the send job to complete');
  expect(sentTo(to)).toHaveLength(1);
  expect((await outbound(key)).wamid).toBe(sentTo(to)[0]!.messageId);
  expect(await jobState(jobId)).toMatchObject({ returnvalue: 'already_sent' });
}, 60_000);

it('an error answer from Meta is no reason to wait: the retry sends at once', async () => {
  statusWebhooksToIngress();
  graph.failNext(1, '130429', { phoneNumberId: T.phoneNumberId });
  await startSendWorker();
  const to = newCustomer();
  const { key, jobId } = await queueReply(to);
  await waitUntil(async () => (await jobState(jobId)).state === 'completed', 15_000, 'the send job to complete');
  const calls = graph.received.filter((r) => r.kind === 'send' && r.body.to === to);
  expect(calls.map((c) => c.outcome)).toEqual(['error', 'ok']);
  expect(calls[1]!.receivedAt - calls[0]!.receivedAt).toBeLessThan(ATTEMPT_WAIT_MS / 2);
  expect((await outbound(key)).wamid).toBe(calls[1]!.messageId);
}, 30_000);
