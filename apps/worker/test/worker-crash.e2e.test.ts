import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import {
  createTenant,
  dropPrefix,
  messagesOf,
  newCustomer,
  postWebhook,
  sleep,
  startIngress,
  startWorkerProcess,
  textWebhook,
  uniquePrefix,
  waitForQueuesIdle,
  type ChildApp,
  type Ingress,
  type TestTenant,
} from './harness.ts';

/** Worker processes as production runs them (`apps/worker/src/main.ts`, configured by the environment). */
let db: TestDatabase;
let graph: GraphSimulator;
let openai: OpenAISimulator;
let ingress: Ingress;
let tenant: TestTenant;
const prefix = uniquePrefix('crash');
const children: ChildApp[] = [];

function workerProcess(): ChildApp {
  const child = startWorkerProcess(
    { databaseUrl: db.url, prefix, graphUrl: graph.url },
    { OPENAI_BASE_URL: openai.baseURL, WORKER_STALLED_INTERVAL_MS: '1000', WORKER_LOCK_DURATION_MS: '2000', LOG_LEVEL: 'debug' },
  );
  children.push(child);
  return child;
}

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator();
  openai = await startOpenAISimulator();
  tenant = await createTenant(db.sql, {
    slug: 'kassangas',
    name: 'Kassangas Music Shop',
    phoneNumberId: '106540352242922',
    faq: [{ question: 'Do you deliver to Mombasa?', answer: 'Yes, delivery to Mombasa takes 2 days. ALPHA-DELIVERY' }],
  });
  ingress = await startIngress({ databaseUrl: db.url, prefix });
});

afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  await ingress?.stop();
  await graph?.close();
  await openai?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

it('a worker killed with SIGKILL mid-job: another picks the job up after the stall interval; exactly one reply', async () => {
  openai.setFaults({ latencyMs: 3000 }); // the LLM call is in flight when the worker dies
  const first = workerProcess();
  const from = newCustomer();
  const { raw, wamid } = textWebhook(tenant, from, 'Could a keyboard parcel reach Mombasa by courier?');
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  // the worker marks the message read (typing…) right before calling the LLM: the reply job is active
  await graph.waitFor((recs) => recs.some((r) => r.kind === 'read' && r.body.message_id === wamid), 20_000);
  await first.kill('SIGKILL');
  expect(graph.sent().filter((r) => r.body.to === from)).toHaveLength(0);

  workerProcess();
  await graph.waitFor(() => graph.sent().some((r) => r.body.to === from), 25_000);
  await waitForQueuesIdle(prefix, undefined, 15_000);
  await sleep(500);
  const sends = graph.sent().filter((r) => r.body.to === from);
  expect(sends).toHaveLength(1);
  expect(sends[0]!.body.text?.body).toContain('ALPHA-DELIVERY');
  const rows = await messagesOf(db.sql, tenant.id, from);
  expect(rows.map((m) => m.direction)).toEqual(['inbound', 'outbound']);
  expect(rows[1]!.wamid).toBe(sends[0]!.messageId);

  // logs carry tenant, wamid and job id, never secrets or message bodies
  const logs = children.map((c) => c.output()).join('\n');
  expect(logs).toContain(tenant.id);
  expect(logs).toContain(wamid);
  expect(logs).toMatch(/"jobId":"rp-/);
  for (const secret of [tenant.token, tenant.openaiKey!, 'keyboard parcel', 'ALPHA-DELIVERY']) expect(logs).not.toContain(secret);
}, 60_000);

it('SIGTERM lets the active job finish before the process exits', async () => {
  openai.setFaults({ latencyMs: 1500 });
  const worker = children.at(-1)!;
  const from = newCustomer();
  const { raw, wamid } = textWebhook(tenant, from, 'Is courier delivery to Mombasa available for a drum kit?');
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  await graph.waitFor((recs) => recs.some((r) => r.kind === 'read' && r.body.message_id === wamid), 20_000);
  const exitedAt = worker.stop().then(() => Date.now());
  // the reply was chosen and stored before exit; its send job may remain for the next worker
  await exitedAt;
  expect(worker.proc.exitCode).toBe(0);
  const rows = await messagesOf(db.sql, tenant.id, from);
  expect(rows.map((m) => m.direction)).toEqual(['inbound', 'outbound']);
  workerProcess();
  await graph.waitFor(() => graph.sent().some((r) => r.body.to === from), 20_000);
  await waitForQueuesIdle(prefix, undefined, 15_000);
  expect(graph.sent().filter((r) => r.body.to === from)).toHaveLength(1);
}, 60_000);
