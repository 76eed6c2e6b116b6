import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import {
  createTenant,
  dropPrefix,
  keyring,
  messagesOf,
  newCustomer,
  postWebhook,
  repoRoot,
  sleep,
  startIngress,
  statusWebhook,
  textWebhook,
  uniquePrefix,
  waitForQueuesIdle,
  waitUntil,
  type Ingress,
  type TestTenant,
} from './harness.ts';

const execFileAsync = promisify(execFile);

let db: TestDatabase;
let graph: GraphSimulator;
let openai: OpenAISimulator;
let ingress: Ingress;
let worker: WorkerHandle;
const prefix = uniquePrefix('wk');
let A: TestTenant;
let B: TestTenant;
let C: TestTenant;

const PROMPT_A = 'You are Kassangas Music Shop assistant. SECRET-PROMPT-ALPHA';
const PROMPT_B = 'You are Baraka Bakery assistant. SECRET-PROMPT-BRAVO';

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator();
  openai = await startOpenAISimulator();
  A = await createTenant(db.sql, {
    slug: 'kassangas',
    name: 'Kassangas Music Shop',
    phoneNumberId: '106540352242922',
    systemPrompt: PROMPT_A,
    faq: [
      { question: 'What are your opening hours?', answer: 'We are open Monday to Saturday, 8am to 6pm. ALPHA-HOURS' },
      { question: 'Do you deliver to Mombasa?', answer: 'Yes, delivery to Mombasa takes 2 days by G4S courier. ALPHA-DELIVERY' },
      { question: 'Do you sell guitar strings?', answer: 'Yes, Ernie Ball and D’Addario strings from KES 900. ALPHA-STRINGS' },
    ],
    canned: [
      { name: 'greeting', triggers: ['hi', 'hello', 'habari'], body: 'Karibu Kassangas Music Shop! How can we help? ALPHA-CANNED' },
      { name: 'location', triggers: ['where are you', 'location'], body: 'We are on Kimathi Street, Nairobi. ALPHA-LOCATION' },
    ],
  });
  B = await createTenant(db.sql, {
    slug: 'baraka-bakery',
    name: 'Baraka Bakery',
    phoneNumberId: '209876543210987',
    systemPrompt: PROMPT_B,
    faq: [
      { question: 'Do you bake birthday cakes?', answer: 'Yes, birthday cakes to order from KES 2,500. BRAVO-CAKES' },
      { question: 'Do you deliver to Westlands?', answer: 'Yes, we deliver to Westlands the same day. BRAVO-DELIVERY' },
    ],
  });
  // C: an impatient LLM budget, to exercise the timeout fallback quickly
  C = await createTenant(db.sql, {
    slug: 'chui-cafe',
    name: 'Chui Cafe',
    phoneNumberId: '301234567890123',
    llmTimeoutMs: 300,
    fallbackMessage: 'Asante! A person from Chui Cafe will reply soon. CHARLIE-FALLBACK',
    faq: [{ question: 'Do you serve breakfast?', answer: 'Yes, from 7am. CHARLIE-BREAKFAST' }],
  });
  ingress = await startIngress({ databaseUrl: db.url, prefix });
  worker = await startWorker({
    sql: db.sql,
    redisUrl: redisUrl(),
    prefix,
    keyring,
    graphApiBaseUrl: graph.url,
    openaiBaseUrl: openai.baseURL,
    openaiModel: 'gpt-4o-mini',
    concurrency: 8,
    retry: { retryBaseMs: 100, replyAttempts: 3, sendAttempts: 4 },
    logger: createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'),
  });
});

afterAll(async () => {
  await worker?.close();
  await ingress?.stop();
  await graph?.close();
  await openai?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

/** Successful sends to one customer. */
const sendsTo = (to: string) => graph.sent().filter((r) => r.body.to === to);

async function ask(t: TestTenant, text: string, from = newCustomer()) {
  const { raw, wamid } = textWebhook(t, from, text);
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  return { from, wamid };
}

async function replyTo(t: TestTenant, text: string) {
  const q = await ask(t, text);
  await graph.waitFor(() => sendsTo(q.from).length >= 1, 15_000);
  await waitUntil(async () => (await messagesOf(db.sql, t.id, q.from)).find((m) => m.direction === 'outbound' && m.wamid), 5000, 'outbound wamid');
  const rows = await messagesOf(db.sql, t.id, q.from);
  return { ...q, send: sendsTo(q.from)[0]!, outbound: rows.find((m) => m.direction === 'outbound')!, rows };
}

describe('two tenants at the same time', () => {
  it('each gets exactly one reply from its own number with its own token; nothing crosses over', async () => {
    const fromA = newCustomer();
    const fromB = newCustomer();
    // questions the FAQ does not answer clearly: both go to the LLM with their grounding
    const a = textWebhook(A, fromA, 'I am in Mombasa, could a keyboard be sent by courier to me?');
    const b = textWebhook(B, fromB, 'My office is in Westlands, is same day delivery possible there?');
    const llmBefore = openai.requests.length;
    const statuses = await Promise.all([postWebhook(ingress.url, a.raw), postWebhook(ingress.url, b.raw)]);
    expect(statuses).toEqual([200, 200]);
    await graph.waitFor(() => sendsTo(fromA).length >= 1 && sendsTo(fromB).length >= 1, 15_000);
    await waitForQueuesIdle(prefix);

    const [sa] = sendsTo(fromA);
    const [sb] = sendsTo(fromB);
    expect(sendsTo(fromA)).toHaveLength(1);
    expect(sendsTo(fromB)).toHaveLength(1);
    expect(sa!.phoneNumberId).toBe(A.phoneNumberId);
    expect(sa!.token).toBe(A.token);
    expect(sa!.body.context?.message_id).toBe(a.wamid);
    expect(sa!.body.text?.body).toContain('ALPHA-DELIVERY');
    expect(sb!.phoneNumberId).toBe(B.phoneNumberId);
    expect(sb!.token).toBe(B.token);
    expect(sb!.body.context?.message_id).toBe(b.wamid);
    expect(sb!.body.text?.body).toContain('BRAVO-DELIVERY');

    // what each simulator received for one tenant never mentions the other
    const llm = openai.requests.slice(llmBefore);
    const llmA = llm.filter((r) => JSON.stringify(r.messages).includes(fromA) || r.apiKey === A.openaiKey);
    const llmB = llm.filter((r) => r.apiKey === B.openaiKey);
    expect(llmA.length).toBeGreaterThan(0);
    expect(llmB.length).toBeGreaterThan(0);
    for (const r of llmA) {
      expect(r.apiKey).toBe(A.openaiKey);
      const s = JSON.stringify(r.messages);
      expect(s).toContain('SECRET-PROMPT-ALPHA');
      for (const foreign of ['SECRET-PROMPT-BRAVO', 'BRAVO-', B.token, B.openaiKey!, 'Baraka']) expect(s).not.toContain(foreign);
    }
    for (const r of llmB) {
      const s = JSON.stringify(r.messages);
      expect(s).toContain('SECRET-PROMPT-BRAVO');
      for (const foreign of ['SECRET-PROMPT-ALPHA', 'ALPHA-', A.token, A.openaiKey!, 'Kassangas']) expect(s).not.toContain(foreign);
    }
    for (const rec of graph.received.filter((r) => r.phoneNumberId === A.phoneNumberId)) {
      expect(rec.token).toBe(A.token);
      expect(JSON.stringify(rec.body)).not.toMatch(/BRAVO|Baraka/);
    }
    for (const rec of graph.received.filter((r) => r.phoneNumberId === B.phoneNumberId)) {
      expect(rec.token).toBe(B.token);
      expect(JSON.stringify(rec.body)).not.toMatch(/ALPHA|Kassangas/);
    }
    // and each tenant's rows are invisible to the other under RLS
    expect(await messagesOf(db.sql, B.id, fromA)).toEqual([]);
    expect(await messagesOf(db.sql, A.id, fromB)).toEqual([]);
    expect((await messagesOf(db.sql, A.id, fromA)).map((m) => m.direction)).toEqual(['inbound', 'outbound']);
  });
});

describe('reply paths', () => {
  it('canned: a whole-word trigger, case- and accent-insensitive', async () => {
    const r = await replyTo(A, 'HÍ there!');
    expect(r.send.body.text?.body).toContain('ALPHA-CANNED');
    expect(r.outbound.answer_path).toBe('canned');
    expect(r.outbound.template_id).not.toBeNull();
    const phrase = await replyTo(A, 'Where are you located exactly?');
    expect(phrase.send.body.text?.body).toContain('ALPHA-LOCATION');
  });

  it('canned: "hi" does not match "ship"', async () => {
    const r = await replyTo(A, 'Can you ship strings?');
    expect(r.send.body.text?.body).not.toContain('ALPHA-CANNED');
    expect(r.outbound.answer_path).not.toBe('canned');
  });

  it('FAQ: a clear match is answered directly, without the LLM', async () => {
    const llmBefore = openai.requests.length;
    const r = await replyTo(A, 'what are your opening hours');
    expect(r.send.body.text?.body).toContain('ALPHA-HOURS');
    expect(r.outbound.answer_path).toBe('faq');
    expect(r.outbound.faq_id).not.toBeNull();
    expect(openai.requests.length).toBe(llmBefore);
  });

  it('LLM: gets the system prompt, the FAQ grounding and the conversation; usage is recorded', async () => {
    const from = newCustomer();
    // an earlier turn, answered by the canned greeting
    await ask(A, 'Habari', from);
    await graph.waitFor(() => sendsTo(from).length >= 1);
    await waitForQueuesIdle(prefix);
    const before = openai.requests.length;
    const q = await ask(A, 'Would Mombasa be reachable for a keyboard parcel?', from);
    await graph.waitFor(() => sendsTo(from).length >= 2);
    const req = openai.requests.slice(before).find((r) => JSON.stringify(r.messages).includes('keyboard parcel'))!;
    expect(req).toBeDefined();
    expect(req.apiKey).toBe(A.openaiKey);
    expect(req.model).toBe('gpt-4o-mini');
    const system = String(req.messages[0]!.content);
    expect(req.messages[0]!.role).toBe('system');
    expect(system).toContain(PROMPT_A);
    expect(system).toContain('HANDOVER');
    expect(system).toMatch(/Q: Do you deliver to Mombasa\?\nA: Yes, delivery to Mombasa/);
    // history: the earlier exchange, then the new message last
    const roles = req.messages.map((m) => m.role);
    expect(roles.slice(-3)).toEqual(['user', 'assistant', 'user']);
    expect(req.messages.at(-1)!.content).toBe('Would Mombasa be reachable for a keyboard parcel?');
    // typing indicator / read receipt before the slow answer
    expect(graph.reads().some((r) => r.body.message_id === q.wamid && r.body.typing_indicator)).toBe(true);

    const reply = sendsTo(from)[1]!;
    expect(reply.body.text?.body).toContain('ALPHA-DELIVERY');
    await waitForQueuesIdle(prefix);
    const out = (await messagesOf(db.sql, A.id, from)).filter((m) => m.direction === 'outbound');
    expect(out.map((m) => m.answer_path)).toEqual(['canned', 'llm']);
    const usage = await withTenant(db.sql, A.id, (tx) =>
      tx<{ prompt_tokens: string; completion_tokens: string; answers_llm: number }[]>`
        select sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens, sum(answers_llm)::int as answers_llm
          from alphadome.bot_usage_daily`,
    );
    expect(usage[0]!.answers_llm).toBeGreaterThanOrEqual(1);
    expect(Number(usage[0]!.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(usage[0]!.completion_tokens)).toBeGreaterThan(0);
  });

  it('LLM says HANDOVER → the fallback reply', async () => {
    const r = await replyTo(A, 'Can I pay for a piano in monthly instalments through my sacco?');
    expect(r.outbound.answer_path).toBe('fallback');
    expect(r.send.body.text?.body).toBe('Thanks! A person from our team will get back to you shortly.');
  });

  it('fallback when the LLM fails on every attempt (errors)', async () => {
    openai.failNext(3, 'error');
    const before = openai.requests.length;
    const r = await replyTo(B, 'Are your doughnuts vegan and gluten free?');
    expect(r.outbound.answer_path).toBe('fallback');
    expect(r.send.body.text?.body).toBe('Thanks! A person from our team will get back to you shortly.');
    expect(openai.requests.slice(before).filter((x) => x.outcome === 'error').length).toBe(3);
    expect(sendsTo(r.from)).toHaveLength(1);
  });

  it('fallback when the LLM times out on every attempt', async () => {
    openai.failNext(3, 'timeout');
    const r = await replyTo(C, 'Is your coffee from Kiambu or Nyeri?');
    expect(r.outbound.answer_path).toBe('fallback');
    expect(r.send.body.text?.body).toContain('CHARLIE-FALLBACK');
    expect(sendsTo(r.from)).toHaveLength(1);
  });

  it('an LLM error followed by success: the retry answers', async () => {
    openai.failNext(1, 'error');
    const r = await replyTo(B, 'Can I order a birthday cake for Saturday please, my daughter turns five?');
    expect(['llm', 'faq']).toContain(r.outbound.answer_path);
    expect(r.send.body.text?.body).toContain('BRAVO-CAKES');
    expect(sendsTo(r.from)).toHaveLength(1);
  });
});

describe('duplicates and controls', () => {
  it('a webhook delivered 5 times → one stored message, one reply', async () => {
    const from = newCustomer();
    const { raw, wamid } = textWebhook(A, from, 'hello');
    const codes = await Promise.all([1, 2, 3].map(() => postWebhook(ingress.url, raw)));
    codes.push(await postWebhook(ingress.url, raw));
    await graph.waitFor(() => sendsTo(from).length >= 1);
    codes.push(await postWebhook(ingress.url, raw)); // after the reply went out
    expect(codes).toEqual([200, 200, 200, 200, 200]);
    await waitForQueuesIdle(prefix);
    await sleep(300);
    expect(sendsTo(from)).toHaveLength(1);
    const rows = await messagesOf(db.sql, A.id, from);
    expect(rows.filter((m) => m.direction === 'inbound').map((m) => m.wamid)).toEqual([wamid]);
    expect(rows.filter((m) => m.direction === 'outbound')).toHaveLength(1);
  });

  it('bot switched off → stored, no reply; switched on → the next message gets one', async () => {
    const from = newCustomer();
    await setBot(B, false);
    const off = await ask(B, 'Do you bake birthday cakes?', from);
    await waitUntil(async () => (await messagesOf(db.sql, B.id, from)).some((m) => m.wamid === off.wamid), 10_000, 'stored message');
    await waitForQueuesIdle(prefix);
    await sleep(300);
    expect(sendsTo(from)).toHaveLength(0);
    expect((await messagesOf(db.sql, B.id, from)).map((m) => m.direction)).toEqual(['inbound']);

    await setBot(B, true);
    await ask(B, 'Do you bake birthday cakes?', from);
    await graph.waitFor(() => sendsTo(from).length >= 1);
    await waitForQueuesIdle(prefix);
    expect(sendsTo(from)).toHaveLength(1);
    expect(sendsTo(from)[0]!.body.text?.body).toContain('BRAVO-CAKES');
    const rows = await messagesOf(db.sql, B.id, from);
    expect(rows.map((m) => m.direction)).toEqual(['inbound', 'inbound', 'outbound']);
  });

  it('a conversation taken over by a person gets no bot reply', async () => {
    const from = newCustomer();
    await ask(A, 'hi', from);
    await graph.waitFor(() => sendsTo(from).length >= 1);
    await withTenant(db.sql, A.id, (tx) => tx`update alphadome.bot_conversations set mode = 'human' where wa_id = ${from}`);
    const q = await ask(A, 'hi again', from);
    await waitUntil(async () => (await messagesOf(db.sql, A.id, from)).some((m) => m.wamid === q.wamid), 10_000, 'stored message');
    await waitForQueuesIdle(prefix);
    await sleep(200);
    expect(sendsTo(from)).toHaveLength(1);
  });
});

describe('statuses', () => {
  it('out of order (read, delivered, sent) end as read', async () => {
    const r = await replyTo(A, 'hello');
    const wamid = r.outbound.wamid!;
    expect(wamid).toBe(r.send.messageId);
    const t0 = Math.floor(Date.now() / 1000);
    for (const [status, dt] of [['read', 3], ['delivered', 2], ['sent', 1]] as const) {
      expect(await postWebhook(ingress.url, statusWebhook(A, wamid, status, r.from, { timestamp: t0 + dt }))).toBe(200);
    }
    await waitForQueuesIdle(prefix);
    const out = (await messagesOf(db.sql, A.id, r.from)).find((m) => m.direction === 'outbound')!;
    expect(out.status).toBe('read');
  });

  it('failed keeps Meta’s code and title, overrides delivered but never read', async () => {
    const r = await replyTo(A, 'hello');
    const wamid = r.outbound.wamid!;
    await postWebhook(ingress.url, statusWebhook(A, wamid, 'sent', r.from));
    await postWebhook(ingress.url, statusWebhook(A, wamid, 'failed', r.from, { errors: [{ code: 131026, title: 'Message undeliverable' }] }));
    await waitForQueuesIdle(prefix);
    await postWebhook(ingress.url, statusWebhook(A, wamid, 'delivered', r.from));
    await waitForQueuesIdle(prefix);
    const out = (await messagesOf(db.sql, A.id, r.from)).find((m) => m.direction === 'outbound')!;
    expect(out.status).toBe('failed');
    expect(out.error_code).toBe(131026);
    expect(out.error_title).toBe('Message undeliverable');

    const r2 = await replyTo(A, 'hello');
    await postWebhook(ingress.url, statusWebhook(A, r2.outbound.wamid!, 'read', r2.from));
    await waitForQueuesIdle(prefix);
    await postWebhook(ingress.url, statusWebhook(A, r2.outbound.wamid!, 'failed', r2.from));
    await waitForQueuesIdle(prefix);
    expect((await messagesOf(db.sql, A.id, r2.from)).find((m) => m.direction === 'outbound')!.status).toBe('read');
  });

  it('a status that arrives before its message is recorded is applied once the message is', async () => {
    const from = newCustomer();
    const wamid = `wamid.EARLY${Date.now()}`;
    expect(await postWebhook(ingress.url, statusWebhook(A, wamid, 'delivered', from))).toBe(200);
    await sleep(300);
    await withTenant(db.sql, A.id, (tx) => tx`
      insert into alphadome.bot_message_logs (tenant_id, direction, wamid, idempotency_key, wa_id, message_type, body, status)
      values (${A.id}, 'outbound', ${wamid}, ${'test:' + wamid}, ${from}, 'text', 'early', 'accepted')`);
    await waitUntil(async () => (await messagesOf(db.sql, A.id, from))[0]?.status === 'delivered', 10_000, 'status applied');
  });
});

describe('send errors', () => {
  it('a retryable Graph error (130429) is retried and the message goes out once', async () => {
    graph.failNext(2, '130429', { phoneNumberId: B.phoneNumberId });
    const r = await replyTo(B, 'Do you bake birthday cakes?');
    expect(sendsTo(r.from)).toHaveLength(1);
    expect(r.outbound.status).toBe('accepted');
  });

  it('a permanent Graph error (131026) is stored on the message, not retried', async () => {
    const before = graph.received.length;
    graph.failNext(1, '131026', { phoneNumberId: B.phoneNumberId });
    const q = await ask(B, 'Do you bake birthday cakes?');
    const row = await waitUntil(
      async () => (await messagesOf(db.sql, B.id, q.from)).find((m) => m.direction === 'outbound' && m.status === 'failed'),
      10_000,
      'failed outbound',
    );
    expect(row.error_code).toBe(131026);
    await waitForQueuesIdle(prefix);
    expect(graph.received.slice(before).filter((x) => x.kind === 'send' && x.body.to === q.from)).toHaveLength(1);
  });
});

describe('credentials and job data', () => {
  it('an expired token (190) marks the tenant credentials invalid; its send waits (parked), no retry', async () => {
    const before = graph.received.length;
    graph.failNext(1, '190', { phoneNumberId: C.phoneNumberId });
    const q = await ask(C, 'Do you serve breakfast?');
    const status = async () =>
      (await db.sql<{ credential_status: string }[]>`select credential_status from alphadome.bot_tenants where id = ${C.id}`)[0]?.credential_status;
    await waitUntil(async () => (await status()) === 'invalid', 10_000, 'credentials marked invalid');
    await waitUntil(async () => (await worker.queues.send.getDelayed()).some((j) => j.data.tenantId === C.id), 10_000, 'the send parked');
    expect(graph.received.slice(before).filter((x) => x.kind === 'send' && x.body.to === q.from)).toHaveLength(1);
    const row = (await messagesOf(db.sql, C.id, q.from)).find((m) => m.direction === 'outbound');
    expect(row?.status).toBe('queued'); // waiting, not failed
    const audit = await withTenant(db.sql, C.id, (tx) => tx<{ action: string }[]>`select action from alphadome.bot_audit_log`);
    expect(audit.map((a) => a.action)).toContain('credentials.invalid');
    // the credential is fixed: the parked send goes out (delivery.test.ts does this through the CLI)
    await db.sql`update alphadome.bot_tenants set credential_status = 'valid' where id = ${C.id}`;
    await worker.delivery.resume(C.id);
    await waitForQueuesIdle(prefix);
    expect(graph.received.slice(before).filter((x) => x.kind === 'send' && x.outcome === 'ok' && x.body.to === q.from)).toHaveLength(1);
  });

  it('no job in Redis holds a token or key', async () => {
    const all = [];
    for (const q of [worker.queues.reply, worker.queues.send]) all.push(...(await q.getJobs(['completed', 'failed', 'waiting', 'delayed', 'active'])));
    expect(all.length).toBeGreaterThan(10);
    const dump = JSON.stringify(all.map((j) => j?.data));
    for (const t of [A, B, C]) {
      expect(dump).not.toContain(t.token);
      expect(dump).not.toContain(t.openaiKey!);
    }
  });
});

/** Switch the bot with the operator CLI, as an operator would (it announces the change to workers). */
async function setBot(t: TestTenant, on: boolean): Promise<void> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['apps/cli/bin/alphadome.js', 'tenant', 'update', t.slug, '--bot', on ? 'on' : 'off', '--json'],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix, ENCRYPTION_KEYS: TEST_KEYRING_SPEC },
    },
  );
  void stdout;
  const [row] = await withTenant(db.sql, t.id, (tx) => tx<{ bot_enabled: boolean }[]>`select bot_enabled from alphadome.bot_control_settings`);
  expect(row!.bot_enabled).toBe(on);
}
