import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { insertOutboundMessage, Keyring, putSecret, queueNames, sendJobId, upsertContactAndConversation, withTenant, type Sql } from '@alphadome/tenant-core';
import { redisUrl, TEST_KEYRING_SPEC } from '@alphadome/testkit/database';
import { buildStatusWebhook, buildTextWebhook, signBody, textMessage } from '@alphadome/whatsapp';
import { connectionFromUrl, type WorkerQueues } from '../src/queues.ts';
import { dropPrefix as dropStackPrefix } from '../../../bench/stack.ts';

/** Helpers for the worker's end-to-end tests: real ingress (child process), real Redis/Postgres. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const APP_SECRET = 'test-app-secret-0123456789';
export const VERIFY_TOKEN = 'test-verify-token-0123';
export const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);

export const uniquePrefix = (name: string) => `t${name}${randomBytes(4).toString('hex')}`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ChildApp {
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for the exit */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Run a TypeScript entry point of the repo (`apps/…/src/main.ts`) as a child process. */
export function spawnApp(entry: string, env: Record<string, string>): ChildApp {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  proc.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return { proc, output: () => out, stop: () => kill('SIGTERM'), kill };
}

export async function waitUntil<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface Ingress extends ChildApp {
  url: string;
}

export async function startIngress(env: { databaseUrl: string; prefix: string }): Promise<Ingress> {
  const port = await freePort();
  const app = spawnApp('apps/ingress/src/main.ts', {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: env.prefix,
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
    INGRESS_PORT: String(port),
    HOST: '127.0.0.1',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (app.proc.exitCode !== null) throw new Error(`ingress exited: ${app.output()}`);
      try {
        return (await fetch(`${url}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    20_000,
    'ingress to listen',
  );
  return { ...app, url };
}

/**
 * A worker process as production runs it (`apps/worker/src/main.ts`, configured by the
 * environment): against this database, Redis, queue prefix and Graph server; `extra` adds or
 * overrides variables (tuning knobs, OPENAI_BASE_URL, LOG_LEVEL…).
 */
export function startWorkerProcess(env: { databaseUrl: string; prefix: string; graphUrl: string }, extra: Record<string, string> = {}): ChildApp {
  return spawnApp('apps/worker/src/main.ts', {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: env.prefix,
    ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
    GRAPH_API_BASE_URL: env.graphUrl,
    WORKER_PORT: '0',
    HOST: '127.0.0.1',
    WORKER_RETRY_BASE_MS: '100',
    ...extra,
  });
}

export async function postWebhook(ingressUrl: string, raw: string): Promise<number> {
  const res = await fetch(`${ingressUrl}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, APP_SECRET) },
    body: raw,
  });
  await res.text();
  return res.status;
}

export interface TestTenant {
  id: string;
  slug: string;
  name: string;
  phoneNumberId: string;
  displayPhone: string;
  token: string;
  openaiKey: string | null;
}

export interface TenantSpec {
  slug: string;
  name: string;
  phoneNumberId: string;
  displayPhone?: string;
  token?: string;
  openaiKey?: string | null;
  systemPrompt?: string;
  llmTimeoutMs?: number;
  fallbackMessage?: string;
  /** the reply debounce window; 0 here (answer at once) unless a test exercises it */
  debounceMs?: number;
  faq?: { question: string; answer: string }[];
  canned?: { name: string; triggers: string[]; body: string }[];
}

/** A tenant with encrypted credentials, settings, FAQ and canned replies, written as the app would. */
export async function createTenant(sql: Sql, spec: TenantSpec): Promise<TestTenant> {
  const displayPhone = spec.displayPhone ?? `+2547${spec.phoneNumberId.slice(-8)}`;
  const [row] = await sql<{ id: string }[]>`
    insert into alphadome.bot_tenants (client_name, slug, whatsapp_phone_number_id, display_phone, credential_status)
    values (${spec.name}, ${spec.slug}, ${spec.phoneNumberId}, ${displayPhone}, 'valid') returning id`;
  const id = row!.id;
  const token = spec.token ?? `EAAtoken${spec.slug}${randomBytes(12).toString('hex')}`;
  const openaiKey = spec.openaiKey === undefined ? `sk-${spec.slug}-${randomBytes(8).toString('hex')}` : spec.openaiKey;
  await withTenant(sql, id, async (tx) => {
    await putSecret(tx, keyring, id, 'whatsapp_token', token);
    if (openaiKey) await putSecret(tx, keyring, id, 'openai_key', openaiKey);
    await tx`insert into alphadome.bot_control_settings (tenant_id, system_prompt, llm_timeout_ms, fallback_message, debounce_ms)
             values (${id}, ${spec.systemPrompt ?? ''}, ${spec.llmTimeoutMs ?? 5000},
                     ${spec.fallbackMessage ?? 'Thanks! A person from our team will get back to you shortly.'}, ${spec.debounceMs ?? 0})`;
    for (const f of spec.faq ?? []) {
      await tx`insert into alphadome.bot_training_data (tenant_id, question, answer) values (${id}, ${f.question}, ${f.answer})`;
    }
    for (const c of spec.canned ?? []) {
      await tx`insert into alphadome.bot_templates (tenant_id, name, kind, triggers, body)
               values (${id}, ${c.name}, 'canned', ${c.triggers}, ${c.body})`;
    }
  });
  return { id, slug: spec.slug, name: spec.name, phoneNumberId: spec.phoneNumberId, displayPhone, token, openaiKey };
}

let wamidSeq = 0;
export const newWamid = () => `wamid.TEST${Date.now().toString(36)}${(++wamidSeq).toString(36)}${randomBytes(6).toString('hex')}`;
let phoneSeq = 0;
export const newCustomer = () => `2547${String(10_000_000 + Math.floor(Math.random() * 80_000_000) + ++phoneSeq).slice(0, 8)}`;

export function textWebhook(t: TestTenant, from: string, text: string, wamid = newWamid()): { raw: string; wamid: string } {
  return {
    raw: buildTextWebhook({ phoneNumberId: t.phoneNumberId, displayPhoneNumber: t.displayPhone.replace(/\D/g, ''), from, wamid, text, name: 'Customer' }),
    wamid,
  };
}

export function statusWebhook(
  t: TestTenant,
  wamid: string,
  status: string,
  recipientId: string,
  opts: { timestamp?: number; errors?: { code: number; title: string }[] } = {},
): string {
  return buildStatusWebhook({
    phoneNumberId: t.phoneNumberId,
    displayPhoneNumber: t.displayPhone.replace(/\D/g, ''),
    wamid,
    status,
    recipientId,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    ...(opts.errors ? { errors: opts.errors } : {}),
  });
}

/**
 * Wait until no job of these queues is waiting, active or delayed. Not the maintenance queue by
 * default: its job schedulers (token expiry, backlog reconcile) always hold the next run delayed.
 */
export async function waitForQueuesIdle(
  prefix: string,
  names: readonly string[] = [queueNames.inbound, queueNames.reply, queueNames.send, queueNames.status],
  timeoutMs = 15_000,
): Promise<void> {
  const queues = names.map((n) => new Queue(n, { connection: connectionFromUrl(redisUrl()), prefix }));
  try {
    let idleSince = 0;
    await waitUntil(
      async () => {
        const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')));
        const busy = counts.some((c) => Object.values(c).some((n) => n > 0));
        if (busy) idleSince = 0;
        else if (idleSince === 0) idleSince = Date.now();
        return idleSince !== 0 && Date.now() - idleSince > 200;
      },
      timeoutMs,
      'queues to be idle',
    );
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** Remove every Redis key of a test's queue prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  await dropStackPrefix(redisUrl(), prefix);
}

export interface MessageLog {
  id: string;
  direction: string;
  wamid: string | null;
  wa_id: string;
  body: string | null;
  status: string | null;
  answer_path: string | null;
  template_id: string | null;
  faq_id: string | null;
  error_code: number | null;
  error_title: string | null;
  reply_to_wamid: string | null;
  idempotency_key: string | null;
}

/**
 * A stored reply waiting to be sent (as the reply processor leaves it), and its send job: the
 * outbound row (in the customer's conversation, whose last inbound message is `lastInboundAt`,
 * default now) under `key`, then the send job on `queues`.
 */
export async function queueOutbound(
  sql: Sql,
  queues: Pick<WorkerQueues, 'addSend'>,
  tenantId: string,
  o: { key: string; waId: string; body: string; lastInboundAt?: Date },
): Promise<{ key: string; rowId: string; jobId: string }> {
  const rowId = await withTenant(sql, tenantId, async (tx) => {
    const conv = await upsertContactAndConversation(tx, { tenantId, waId: o.waId, at: o.lastInboundAt ?? new Date() });
    const { row } = await insertOutboundMessage(tx, {
      tenantId,
      conversationId: conv.id,
      idempotencyKey: o.key,
      waId: o.waId,
      messageType: 'text',
      body: o.body,
      payload: textMessage(o.waId, o.body) as unknown as Record<string, unknown>,
      answerPath: 'canned',
    });
    return row.id;
  });
  await queues.addSend({ tenantId, idempotencyKey: o.key });
  return { key: o.key, rowId, jobId: sendJobId(tenantId, o.key) };
}

/** The outbound row stored under an idempotency key (read as that tenant). */
export async function outboundRow(sql: Sql, tenantId: string, key: string) {
  const [row] = await withTenant(sql, tenantId, (tx) => tx<{ wamid: string | null; status: string; error_code: number | null; error_title: string | null }[]>`
    select wamid, status, error_code, error_title from alphadome.bot_message_logs where idempotency_key = ${key}`);
  return row!;
}

/** A customer's messages in and out at one tenant (read as that tenant). */
export async function messagesOf(sql: Sql, tenantId: string, waId: string): Promise<MessageLog[]> {
  return withTenant(sql, tenantId, async (tx) =>
    (await tx<MessageLog[]>`
      select id, direction, wamid, wa_id, body, status, answer_path, template_id, faq_id, error_code, error_title,
             reply_to_wamid, idempotency_key
        from alphadome.bot_message_logs where wa_id = ${waId} order by created_at, direction`).map((r) => ({ ...r })),
  );
}
