import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createLogger, upsertControlSettings, withTenant } from '@alphadome/tenant-core';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator, type OpenAISimulator } from '@alphadome/testkit';
import { redisUrl, TEST_KEYRING_SPEC } from '@alphadome/testkit/database';
import { buildTextWebhook, signBody } from '@alphadome/whatsapp';
import { buildIngress } from '../../ingress/src/app.ts';
import { createIngressDeps, loadIngressConfig, type OpenedIngressDeps } from '../../ingress/src/deps.ts';
import { startWorker, type WorkerHandle } from '../../worker/src/worker.ts';
import { PASSWORD, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

/**
 * The owner's day in a real browser (Debian chromium, headless, driven by playwright-core),
 * against the whole platform in this process: ingress ← signed webhooks, worker → Graph API
 * simulator. Screenshots at 360 px and 1280 px go to apps/dashboard/test-artifacts/.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const APP_SECRET = 'dashboard-e2e-app-secret';
const PHONE_NUMBER_ID = '106540352242922';

let h: Harness;
let t: SeededTenant;
let dashUrl: string;
let graph: GraphSimulator;
let openai: OpenAISimulator;
let ingressDeps: OpenedIngressDeps;
let ingress: FastifyInstance;
let ingressUrl: string;
let worker: WorkerHandle;
let browser: Browser;
let phone: Page;
let desktop: Page;

const customer = () => `2547${Math.floor(10_000_000 + Math.random() * 89_999_999)}`;
const sendsTo = (to: string) => graph.sent().filter((r) => r.body.to === to);

async function ask(from: string, text: string): Promise<void> {
  const raw = buildTextWebhook({ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: '254702245555', from, wamid: `wamid.${randomBytes(12).toString('hex')}`, text, name: 'Wanjiru' });
  const res = await fetch(`${ingressUrl}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, APP_SECRET) },
    body: raw,
  });
  expect(res.status).toBe(200);
}

async function waitFor(fn: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${artifacts}${name}.png`, fullPage: true });
}

async function login(page: Page): Promise<void> {
  await page.goto(`${dashUrl}/`);
  await page.getByLabel('Email').fill(t.ownerEmail);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${dashUrl}/home`);
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  h = await startHarness();
  t = await seedTenant(h.db.sql, 'kassangas', PHONE_NUMBER_ID);
  // a short debounce keeps the test quick; the owner's pages do not expose it
  await withTenant(h.db.sql, t.id, (tx) => upsertControlSettings(tx, t.id, { debounceMs: 100 }));
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = h.app.server.address();
  dashUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  graph = await startGraphSimulator();
  openai = await startOpenAISimulator();
  const logger = createLogger('dashboard-e2e', process.env.LOG_LEVEL ?? 'silent');
  ingressDeps = await createIngressDeps(
    loadIngressConfig({
      DATABASE_URL: h.db.url,
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: h.prefix,
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: 'dashboard-e2e-verify',
      ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
    }),
    { logger },
  );
  ingress = buildIngress(ingressDeps);
  await ingress.listen({ port: 0, host: '127.0.0.1' });
  const iaddr = ingress.server.address();
  ingressUrl = `http://127.0.0.1:${typeof iaddr === 'object' && iaddr ? iaddr.port : 0}`;
  worker = await startWorker({
    sql: h.db.sql,
    redisUrl: redisUrl(),
    prefix: h.prefix,
    keyring: (await import('./helpers.ts')).keyring,
    graphApiBaseUrl: graph.url,
    openaiBaseUrl: openai.baseURL,
    openaiApiKey: 'sk-test',
    openaiModel: 'gpt-4o-mini',
    concurrency: 4,
    retry: { retryBaseMs: 100, replyAttempts: 2, sendAttempts: 2 },
    logger,
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  phone = await (await browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
  desktop = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await ingress?.close();
  await ingressDeps?.close();
  await graph?.close();
  await openai?.close();
  await h?.close();
});

describe('the owner in a browser', () => {
  it('logs in on a phone and stores the WhatsApp token', async () => {
    await login(phone);
    await shot(phone, 'home-360');
    await phone.getByRole('link', { name: 'Credentials' }).click();
    await phone.getByLabel('New access token from Meta').fill('EAAGkassangas' + 'k'.repeat(60));
    await phone.getByRole('button', { name: 'Save the new token' }).click();
    await expect(phone.getByText('New token saved.')).toBeTruthyAsync();
    expect(await phone.content()).not.toContain('k'.repeat(60));
  }, 60_000);

  it('adds a FAQ entry, and a signed webhook question is answered from it at the Graph simulator', async () => {
    await phone.getByRole('link', { name: 'FAQ' }).click();
    await phone.getByLabel('Question').fill('Do you sell ukuleles?');
    await phone.getByLabel('Answer').fill('Yes! Ukuleles from KES 4,500, in the shop on Moi Avenue. UKULELE-ANSWER');
    await phone.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(phone.getByText('FAQ entry added.')).toBeTruthyAsync();
    await shot(phone, 'faq-360');
    await desktop.goto(`${dashUrl}/`);
    await login(desktop);
    await desktop.goto(`${dashUrl}/faq`);
    await shot(desktop, 'faq-1280');

    const from = customer();
    await ask(from, 'Do you sell ukuleles?');
    await graph.waitFor(() => sendsTo(from).length >= 1, 20_000);
    const sent = sendsTo(from)[0]!;
    expect(sent.phoneNumberId).toBe(PHONE_NUMBER_ID);
    expect(sent.token).toBe('EAAGkassangas' + 'k'.repeat(60));
    expect(JSON.stringify(sent.body)).toContain('UKULELE-ANSWER');
    const [row] = await withTenant(h.db.sql, t.id, (tx) => tx<{ answer_path: string }[]>`
      select answer_path from alphadome.bot_message_logs where wa_id = ${from} and direction = 'outbound'`);
    expect(row!.answer_path).toBe('faq');
  }, 60_000);

  it('switches the bot off: the next message gets no reply', async () => {
    await phone.getByRole('link', { name: 'Home' }).click();
    await phone.getByRole('button', { name: 'Switch the bot off' }).click();
    await expect(phone.getByText('The bot is off.')).toBeTruthyAsync();
    await shot(phone, 'bot-off-360');
    await desktop.goto(`${dashUrl}/home`);
    await shot(desktop, 'home-1280');

    const from = customer();
    await ask(from, 'Do you sell ukuleles?');
    // stored (so the worker saw it), and still no answer well after the debounce
    await waitFor(
      async () => (await withTenant(h.db.sql, t.id, (tx) => tx`select 1 from alphadome.bot_message_logs where wa_id = ${from}`)).length > 0,
      15_000,
      'the inbound message to be stored',
    );
    await new Promise((r) => setTimeout(r, 2500));
    expect(sendsTo(from)).toHaveLength(0);
    const out = await withTenant(h.db.sql, t.id, (tx) => tx`select 1 from alphadome.bot_message_logs where wa_id = ${from} and direction = 'outbound'`);
    expect(out).toHaveLength(0);
    bottedOffCustomer = from;
  }, 60_000);

  it("takes the conversation over: the owner's reply reaches the simulator", async () => {
    await phone.getByRole('link', { name: 'Conversations' }).click();
    await phone.getByRole('link', { name: 'Wanjiru' }).first().click();
    await phone.getByText('Do you sell ukuleles?').first().waitFor();
    // the newest conversation is the one the bot left unanswered
    expect(phone.url()).toContain('/conversations/');
    const convWaId = (await phone.locator('main p.muted').first().textContent())?.replace(/\D/g, '');
    expect(convWaId).toBe(bottedOffCustomer);
    await phone.getByLabel(/Reply as a person/).fill('Habari Wanjiru, Gideon here: yes, we have three in stock.');
    await phone.getByRole('button', { name: 'Send' }).click();
    await expect(phone.getByText('Sent.')).toBeTruthyAsync();
    await shot(phone, 'conversation-360');
    await graph.waitFor(() => sendsTo(bottedOffCustomer).length >= 1, 20_000);
    expect(JSON.stringify(sendsTo(bottedOffCustomer)[0]!.body)).toContain('Gideon here');
    await desktop.goto(phone.url().split('?')[0]!);
    await shot(desktop, 'conversation-1280');
    const [conv] = await withTenant(h.db.sql, t.id, (tx) => tx<{ mode: string }[]>`select mode from alphadome.bot_conversations where wa_id = ${bottedOffCustomer}`);
    expect(conv!.mode).toBe('human');
    // the stored row gets the wamid Meta (the simulator) gave it
    await waitFor(
      async () =>
        (await withTenant(h.db.sql, t.id, (tx) => tx`select 1 from alphadome.bot_message_logs where wa_id = ${bottedOffCustomer} and answer_path = 'human' and wamid is not null`))
          .length > 0,
      10_000,
      'the wamid of the owner reply',
    );
  }, 60_000);
});

let bottedOffCustomer = '';

// a tiny helper: playwright-core ships no test runner assertions
declare module 'vitest' {
  interface Assertion {
    toBeTruthyAsync(): Promise<void>;
  }
}
expect.extend({
  async toBeTruthyAsync(locator: { waitFor(opts: { timeout: number }): Promise<void> }) {
    try {
      await locator.waitFor({ timeout: 10_000 });
      return { pass: true, message: () => 'visible' };
    } catch (err) {
      return { pass: false, message: () => `not visible: ${(err as Error).message}` };
    }
  },
});
