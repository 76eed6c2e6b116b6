import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import { buildWebhookObject, toMetaJson } from '@alphadome/whatsapp';
import { localWallClock } from '../src/conversation/business-hours.ts';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import {
  createTenant,
  dropPrefix,
  keyring,
  messagesOf,
  newCustomer,
  newWamid,
  postWebhook,
  repoRoot,
  sleep,
  startIngress,
  textWebhook,
  uniquePrefix,
  waitForQueuesIdle,
  waitUntil,
  type Ingress,
  type TestTenant,
} from './harness.ts';

/**
 * Conversation behaviour (issue 6) through the real pipeline: signed webhooks into ingress (a
 * child process), the worker in-process, Graph and OpenAI simulators out.
 */
const execFileAsync = promisify(execFile);
let db: TestDatabase;
let graph: GraphSimulator;
let openai: OpenAISimulator;
let ingress: Ingress;
let worker: WorkerHandle;
const prefix = uniquePrefix('bh');
const DASHBOARD = 'https://dash.example.test';
const ESCALATION = '+254 700 000 111';
const ESCALATION_TO = '254700000111';
let K: TestTenant; // debounce 400 ms, escalation contact, Swahili variants, voice transcription
let H: TestTenant; // business hours
let B: TestTenant; // token budget

async function setHours(t: TestTenant, hours: unknown): Promise<void> {
  await withTenant(db.sql, t.id, (tx) =>
    tx`update alphadome.bot_control_settings set business_hours = ${hours === null ? null : tx.json(hours as never)}`,
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator();
  openai = await startOpenAISimulator();
  K = await createTenant(db.sql, {
    slug: 'kassangas',
    name: 'Kassangas Music Shop',
    phoneNumberId: '106540352242922',
    systemPrompt: 'You are the Kassangas Music Shop assistant.',
    debounceMs: 400,
    faq: [
      { question: 'Do you sell guitar strings?', answer: 'Yes, Ernie Ball strings from KES 900. K-STRINGS' },
      { question: 'Do you deliver to Mombasa?', answer: 'Yes, delivery to Mombasa takes 2 days. K-DELIVERY' },
    ],
    canned: [{ name: 'greeting', triggers: ['hi', 'hello'], body: 'Welcome to Kassangas! K-CANNED-EN' }],
  });
  await withTenant(db.sql, K.id, async (tx) => {
    await tx`insert into alphadome.bot_templates (tenant_id, name, kind, triggers, body, language)
             values (${K.id}, 'greeting', 'canned', ${['habari', 'mambo']}, 'Karibu Kassangas! K-CANNED-SW', 'sw')`;
    await tx`update alphadome.bot_control_settings
                set escalation_phone = ${ESCALATION}, handover_message = 'A person from Kassangas will reply here. K-HANDOVER',
                    settings = ${tx.json({ transcribe_voice: true })}`;
  });
  H = await createTenant(db.sql, {
    slug: 'hours-shop',
    name: 'Saa Kumi Hardware',
    phoneNumberId: '401234567890123',
    faq: [{ question: 'What are your opening hours?', answer: 'Monday to Friday, 9am to 5pm. H-HOURS' }],
  });
  await withTenant(db.sql, H.id, (tx) => tx`update alphadome.bot_control_settings set away_message = 'We are closed now. H-AWAY'`);
  B = await createTenant(db.sql, {
    slug: 'budget-shop',
    name: 'Bajeti Electronics',
    phoneNumberId: '501234567890123',
    faq: [
      { question: 'Do you repair phones?', answer: 'Yes, phone repairs from KES 500. B-REPAIR' },
      { question: 'Do you sell phone chargers?', answer: 'Yes, chargers from KES 800. B-CHARGERS' },
    ],
  });
  await withTenant(db.sql, B.id, (tx) => tx`update alphadome.bot_control_settings set monthly_token_budget = 1000, escalation_phone = '+254 799 000 222'`);
  ingress = await startIngress({ databaseUrl: db.url, prefix });
  worker = await startWorker({
    sql: db.sql,
    redisUrl: redisUrl(),
    prefix,
    keyring,
    graphApiBaseUrl: graph.url,
    openaiBaseUrl: openai.baseURL,
    openaiModel: 'gpt-4o-mini',
    publicDashboardUrl: DASHBOARD,
    concurrency: 8,
    contextTtlMs: 0,
    retry: { retryBaseMs: 100, replyAttempts: 3, sendAttempts: 4 },
    logger: createLogger('behaviour-test', process.env.LOG_LEVEL ?? 'silent'),
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

const sendsTo = (to: string) => graph.sent().filter((r) => r.body.to === to);
const bodies = (to: string) => sendsTo(to).map((r) => r.body.text?.body ?? '');

async function say(t: TestTenant, from: string, text: string): Promise<string> {
  const { raw, wamid } = textWebhook(t, from, text);
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  return wamid;
}

async function sendMessage(t: TestTenant, from: string, message: Record<string, unknown>): Promise<string> {
  const wamid = newWamid();
  const raw = toMetaJson(
    buildWebhookObject({
      phoneNumberId: t.phoneNumberId,
      displayPhoneNumber: t.displayPhone.replace(/\D/g, ''),
      contacts: [{ profile: { name: 'Customer' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), ...message }],
    }),
  );
  expect(await postWebhook(ingress.url, raw)).toBe(200);
  return wamid;
}

/** Wait until every queue is idle, then a little longer: nothing more is on its way. */
async function settle(): Promise<void> {
  await waitForQueuesIdle(prefix, ['inbound', 'reply', 'send', 'status'], 20_000);
  await sleep(250);
}

const conversationOf = async (t: TestTenant, waId: string) =>
  (await withTenant(db.sql, t.id, (tx) => tx<{ id: string; mode: string }[]>`select id, mode from alphadome.bot_conversations where wa_id = ${waId}`))[0]!;

describe('debounce and ordering', () => {
  it('three messages 300 ms apart → one reply, and its LLM request contains all three', async () => {
    const from = newCustomer();
    const before = openai.requests.length;
    const texts = ['I am looking at keyboards', 'it is a gift for my son', 'which brand would you recommend for a beginner?'];
    const wamids: string[] = [];
    for (const [i, text] of texts.entries()) {
      if (i > 0) await sleep(300);
      wamids.push(await say(K, from, text));
    }
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    expect(sendsTo(from)).toHaveLength(1);
    const llm = openai.requests.slice(before).filter((r) => JSON.stringify(r.messages).includes('gift for my son'));
    expect(llm).toHaveLength(1);
    const last = llm[0]!.messages.at(-1)!;
    expect(last.role).toBe('user');
    for (const t of texts) expect(String(last.content)).toContain(t);
    // the reply quotes the last message; every message of the burst is marked handled
    expect(sendsTo(from)[0]!.body.context?.message_id).toBe(wamids[2]);
    const rows = await messagesOf(db.sql, K.id, from);
    expect(rows.filter((m) => m.direction === 'outbound')).toHaveLength(1);
    const unhandled = await withTenant(db.sql, K.id, (tx) => tx`select 1 from alphadome.bot_message_logs where wa_id = ${from} and direction = 'inbound' and handled_at is null`);
    expect(unhandled).toHaveLength(0);
  });

  it('a message after the reply gets its own reply, in order', async () => {
    const from = newCustomer();
    await say(K, from, 'hello');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    await say(K, from, 'Do you sell guitar strings?');
    await graph.waitFor(() => sendsTo(from).length >= 2, 15_000);
    await settle();
    expect(bodies(from)).toEqual([expect.stringContaining('K-CANNED-EN'), expect.stringContaining('K-STRINGS')]);
  });
});

describe('human handover', () => {
  it('a handover phrase → the customer told once, one notification to the escalation phone, silence until handed back', async () => {
    const from = newCustomer();
    const notesBefore = sendsTo(ESCALATION_TO).length;
    await say(K, from, 'Nataka kuongea na mtu tafadhali');
    await graph.waitFor(() => sendsTo(from).length >= 1 && sendsTo(ESCALATION_TO).length > notesBefore, 15_000);
    await settle();
    const conv = await conversationOf(K, from);
    expect(conv.mode).toBe('human');
    expect(bodies(from)).toEqual([expect.stringContaining('K-HANDOVER')]);
    const notes = sendsTo(ESCALATION_TO).slice(notesBefore);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.phoneNumberId).toBe(K.phoneNumberId);
    expect(notes[0]!.token).toBe(K.token);
    expect(notes[0]!.body.text?.body).toContain(`${DASHBOARD}/conversations/${conv.id}`);
    expect(notes[0]!.body.text?.body).toContain(from);

    // the bot stays silent while a person has the conversation
    await say(K, from, 'hello? anyone there?');
    await say(K, from, 'Do you sell guitar strings?');
    await settle();
    expect(sendsTo(from)).toHaveLength(1);
    expect(sendsTo(ESCALATION_TO).length - notesBefore).toBe(1);

    // handed back with the operator CLI: the bot answers the next message only
    const { stdout } = await execFileAsync(process.execPath, ['apps/cli/bin/alphadome.js', 'conversation', 'handback', K.slug, from, '--json'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix, ENCRYPTION_KEYS: TEST_KEYRING_SPEC },
    });
    expect(JSON.parse(stdout)).toMatchObject({ conversationId: conv.id, mode: 'bot', changed: true });
    expect((await conversationOf(K, from)).mode).toBe('bot');
    await say(K, from, 'Do you deliver to Mombasa?');
    await graph.waitFor(() => sendsTo(from).length >= 2, 15_000);
    await settle();
    expect(bodies(from)).toHaveLength(2);
    expect(bodies(from)[1]).toContain('K-DELIVERY');
  });

  it('English phrases too; the bot resumes by itself after the quiet period', async () => {
    const from = newCustomer();
    await say(K, from, 'Can I talk to a person please');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    const conv = await conversationOf(K, from);
    expect(conv.mode).toBe('human');
    // nobody replied for longer than the quiet period (120 minutes by default)
    await withTenant(db.sql, K.id, (tx) => tx`update alphadome.bot_conversations set mode_changed_at = now() - interval '3 hours' where id = ${conv.id}`);
    await say(K, from, 'Do you sell guitar strings?');
    await graph.waitFor(() => sendsTo(from).length >= 2, 15_000);
    expect(bodies(from)[1]).toContain('K-STRINGS');
    expect((await conversationOf(K, from)).mode).toBe('bot');
  });

  it('no grounded answer (LLM says HANDOVER) → fallback and handover, with the tenant notified', async () => {
    const from = newCustomer();
    const notesBefore = sendsTo(ESCALATION_TO).length;
    await say(K, from, 'Can I pay for a piano in monthly instalments through my sacco?');
    await graph.waitFor(() => sendsTo(from).length >= 1 && sendsTo(ESCALATION_TO).length > notesBefore, 15_000);
    await settle();
    expect((await conversationOf(K, from)).mode).toBe('human');
    const out = (await messagesOf(db.sql, K.id, from)).filter((m) => m.direction === 'outbound');
    expect(out.map((m) => m.answer_path)).toEqual(['fallback']);
  });
});

describe('opt-out', () => {
  it('STOP → one confirmation, then nothing; START → back', async () => {
    const from = newCustomer();
    await say(K, from, 'STOP');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    expect(bodies(from)).toEqual([expect.stringMatching(/unsubscribed/i)]);
    const [contact] = await withTenant(db.sql, K.id, (tx) => tx<{ opted_out_at: Date | null }[]>`select opted_out_at from alphadome.bot_contacts where wa_id = ${from}`);
    expect(contact!.opted_out_at).not.toBeNull();

    await say(K, from, 'hello');
    await sleep(100);
    await say(K, from, 'STOP'); // again: no second confirmation
    await say(K, from, 'Do you sell guitar strings?');
    await settle();
    expect(sendsTo(from)).toHaveLength(1);

    await say(K, from, 'START');
    await graph.waitFor(() => sendsTo(from).length >= 2, 15_000);
    await settle();
    expect(bodies(from)[1]).toMatch(/welcome back/i);
    await say(K, from, 'hi');
    await graph.waitFor(() => sendsTo(from).length >= 3, 15_000);
    expect(bodies(from)[2]).toContain('K-CANNED-EN');
  });

  it('Swahili keywords: "acha" opts out with a confirmation in Swahili', async () => {
    const from = newCustomer();
    await say(K, from, 'Acha');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    expect(bodies(from)).toHaveLength(1);
    expect(bodies(from)[0]).toMatch(/umejiondoa/i);
    // a sentence that merely contains "stop" is no command
    const other = newCustomer();
    await say(K, other, 'Is there a bus stop near your shop?');
    await graph.waitFor(() => sendsTo(other).length >= 1, 15_000);
    expect(bodies(other)[0]).not.toMatch(/unsubscribed/i);
  });
});

describe('business hours', () => {
  /** The same hour-long interval every day, `hoursAgo` hours before now (Nairobi time). */
  function scheduleEndingHoursAgo(hoursAgo: number) {
    const local = localWallClock(new Date(), 'Africa/Nairobi');
    const at = (h: number) => new Date(local.getTime() - h * 3600_000).toISOString().slice(11, 16);
    const interval: [string, string] = [at(hoursAgo + 1), at(hoursAgo)];
    return Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [interval]]));
  }

  it('outside hours: the away message once per closed period; FAQ still answered', async () => {
    await setHours(H, scheduleEndingHoursAgo(3));
    const from = newCustomer();
    await say(H, from, 'Hello, is anyone there?');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    expect(bodies(from)).toEqual([expect.stringContaining('H-AWAY')]);

    // the same closed period: no second away message; an FAQ question is still answered
    await say(H, from, 'What are your opening hours?');
    await graph.waitFor(() => sendsTo(from).length >= 2, 15_000);
    await settle();
    expect(bodies(from)[1]).toContain('H-HOURS');
    expect(bodies(from)[1]).not.toContain('H-AWAY');
    await say(H, from, 'Can you call me back later?');
    await settle();
    expect(sendsTo(from)).toHaveLength(2);

    // open again: a normal answer (no LLM configured answer here is the fallback)
    await setHours(H, null);
    await say(H, from, 'What are your opening hours?');
    await graph.waitFor(() => sendsTo(from).length >= 3, 15_000);
    await settle();
    expect(bodies(from)[2]).toContain('H-HOURS');

    // a new closed period: the away message once more
    await setHours(H, scheduleEndingHoursAgo(2));
    await say(H, from, 'Hello again');
    await graph.waitFor(() => sendsTo(from).length >= 4, 15_000);
    await settle();
    expect(bodies(from)[3]).toContain('H-AWAY');
    expect(sendsTo(from)).toHaveLength(4);
    await setHours(H, null);
  });
});

describe('language', () => {
  it('a Swahili greeting gets the Swahili variant; an English one the English', async () => {
    const sw = newCustomer();
    await say(K, sw, 'Habari yako');
    const en = newCustomer();
    await say(K, en, 'hello there');
    await graph.waitFor(() => sendsTo(sw).length >= 1 && sendsTo(en).length >= 1, 15_000);
    expect(bodies(sw)[0]).toContain('K-CANNED-SW');
    expect(bodies(en)[0]).toContain('K-CANNED-EN');
  });

  it('the LLM is told which language to answer in', async () => {
    const sw = newCustomer();
    const before = openai.requests.length;
    await say(K, sw, 'Je, mnauza ngoma za watoto kwa bei gani?');
    await graph.waitFor(() => sendsTo(sw).length >= 1, 15_000);
    const req = openai.requests.slice(before).find((r) => JSON.stringify(r.messages).includes('ngoma za watoto'));
    expect(String(req!.messages[0]!.content)).toMatch(/answer in Swahili/);
    const [contact] = await withTenant(db.sql, K.id, (tx) => tx<{ language: string }[]>`select language from alphadome.bot_contacts where wa_id = ${sw}`);
    expect(contact!.language).toBe('sw');
  });
});

describe('budget', () => {
  it('80 % → one alert; 100 % → FAQ-only replies, recorded for the dashboard; cost estimated', async () => {
    const day = new Date().toISOString().slice(0, 10);
    await withTenant(db.sql, B.id, (tx) => tx`insert into alphadome.bot_usage_daily (tenant_id, day, prompt_tokens) values (${B.id}, ${day}, 790)`);
    const from = newCustomer();
    const llmBefore = openai.requests.length;
    await say(B, from, 'Which brands of earphones do you stock?');
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    await settle();
    expect(openai.requests.length).toBeGreaterThan(llmBefore);
    const budgetNotes = () => sendsTo('254799000222').filter((r) => /this month's AI budget/.test(r.body.text?.body ?? ''));
    expect(budgetNotes()).toHaveLength(1);
    const [usage] = await withTenant(db.sql, B.id, (tx) => tx<{ prompt_tokens: string; cost_estimate_usd: string }[]>`select sum(prompt_tokens) as prompt_tokens, sum(cost_estimate_usd) as cost_estimate_usd from alphadome.bot_usage_daily where day = ${day}`);
    expect(Number(usage!.prompt_tokens)).toBeGreaterThan(790);
    expect(Number(usage!.cost_estimate_usd)).toBeGreaterThan(0);

    // used up: the LLM is not called; FAQ answers, the rest gets the fallback
    // the day's usage is one row per shard (migration 0012): make the day's total exactly 1,200
    await withTenant(db.sql, B.id, async (tx) => {
      await tx`update alphadome.bot_usage_daily set prompt_tokens = 0, completion_tokens = 0 where day = ${day}`;
      await tx`update alphadome.bot_usage_daily set prompt_tokens = 1200 where day = ${day} and shard = (select min(shard) from alphadome.bot_usage_daily where day = ${day})`;
    });
    const c2 = newCustomer();
    const llmAt = openai.requests.length;
    await say(B, c2, 'Do you repair phones?');
    await graph.waitFor(() => sendsTo(c2).length >= 1, 15_000);
    await say(B, c2, 'Could you fix the charging port of my laptop as well?');
    await graph.waitFor(() => sendsTo(c2).length >= 2, 15_000);
    await settle();
    expect(openai.requests.length).toBe(llmAt);
    expect(bodies(c2)[0]).toContain('B-REPAIR');
    const out = (await messagesOf(db.sql, B.id, c2)).filter((m) => m.direction === 'outbound');
    expect(out.map((m) => m.answer_path)).toEqual(['faq', 'fallback']);
    const audit = await withTenant(db.sql, B.id, (tx) => tx<{ action: string }[]>`select action from alphadome.bot_audit_log where action like 'budget.%' order by id`);
    expect(audit.map((a) => a.action)).toEqual(['budget.alert_80', 'budget.exhausted']);
    const [flag] = await withTenant(db.sql, B.id, (tx) => tx<{ llm_skipped_budget: number }[]>`select sum(llm_skipped_budget)::int as llm_skipped_budget from alphadome.bot_usage_daily where day = ${day}`);
    expect(flag!.llm_skipped_budget).toBeGreaterThanOrEqual(1);
    expect(budgetNotes()).toHaveLength(2); // the 80 % alert and the exhaustion notice, once each
  });
});

describe('media', () => {
  const cases: { name: string; message: Record<string, unknown>; expect: RegExp }[] = [
    { name: 'image', message: { type: 'image', image: { id: 'm-img', mime_type: 'image/jpeg', sha256: 'x' } }, expect: /photo/i },
    { name: 'video', message: { type: 'video', video: { id: 'm-vid', mime_type: 'video/mp4' } }, expect: /video/i },
    { name: 'document', message: { type: 'document', document: { id: 'm-doc', mime_type: 'application/pdf', filename: 'quote.pdf' } }, expect: /document/i },
    { name: 'sticker', message: { type: 'sticker', sticker: { id: 'm-stk', mime_type: 'image/webp', animated: false } }, expect: /how can we help/i },
    { name: 'location', message: { type: 'location', location: { latitude: -1.28, longitude: 36.82, name: 'Home' } }, expect: /location/i },
    { name: 'contacts', message: { type: 'contacts', contacts: [{ name: { formatted_name: 'Jane' }, phones: [{ phone: '+254700000001' }] }] }, expect: /contact card/i },
    { name: 'unsupported', message: { type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] }, expect: /cannot open this kind of message/i },
  ];
  for (const c of cases) {
    it(`${c.name} gets a sensible reply`, async () => {
      const from = newCustomer();
      await sendMessage(K, from, c.message);
      await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
      expect(bodies(from)[0]).toMatch(c.expect);
    });
  }

  it('an image with a caption is answered like text', async () => {
    const from = newCustomer();
    await sendMessage(K, from, { type: 'image', image: { id: 'm-cap', mime_type: 'image/jpeg', caption: 'Do you sell guitar strings like these?' } });
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    expect(bodies(from)[0]).toContain('K-STRINGS');
  });

  it('a voice note is downloaded from Graph, transcribed, and answered like text', async () => {
    graph.addMedia('m-voice-1', { mimeType: 'audio/ogg; codecs=opus', bytes: Buffer.from('voice-bytes-1') });
    openai.setTranscript('Do you deliver to Mombasa?', Buffer.from('voice-bytes-1'));
    const from = newCustomer();
    const before = openai.transcriptions.length;
    await sendMessage(K, from, { type: 'audio', audio: { id: 'm-voice-1', mime_type: 'audio/ogg; codecs=opus', voice: true } });
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    expect(bodies(from)[0]).toContain('K-DELIVERY');
    expect(openai.transcriptions.length).toBe(before + 1);
    expect(openai.transcriptions.at(-1)!.apiKey).toBe(K.openaiKey);
    expect(graph.mediaRequests.filter((r) => r.mediaId === 'm-voice-1').map((r) => r.kind)).toEqual(['metadata', 'download']);
    await settle();
    const inbound = (await messagesOf(db.sql, K.id, from)).find((m) => m.direction === 'inbound')!;
    expect(inbound.body).toBe('Do you deliver to Mombasa?');
  });

  it('a voice note that cannot be fetched, or a tenant without transcription: an acknowledgement, never silence', async () => {
    const from = newCustomer();
    await sendMessage(K, from, { type: 'audio', audio: { id: 'm-missing', mime_type: 'audio/ogg', voice: true } });
    await graph.waitFor(() => sendsTo(from).length >= 1, 15_000);
    expect(bodies(from)[0]).toMatch(/voice note/i);
    const other = newCustomer();
    await sendMessage(H, other, { type: 'audio', audio: { id: 'm-voice-1', mime_type: 'audio/ogg', voice: true } });
    await graph.waitFor(() => sendsTo(other).length >= 1, 15_000);
    expect(bodies(other)[0]).toMatch(/type your question/i);
  });

  it('reactions get no reply', async () => {
    const from = newCustomer();
    await sendMessage(K, from, { type: 'reaction', reaction: { message_id: 'wamid.X', emoji: '👍' } });
    await settle();
    expect(sendsTo(from)).toHaveLength(0);
  });
});
