import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { inboundJobId, queueNames, redisOptionsFromUrl } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { buildTextWebhook, signBody } from '@alphadome/whatsapp';
import { createTenant, deleteKeys, META_DISPLAY_PHONE, META_PHONE_NUMBER_ID, PLATFORM_SECRET, uniquePrefix, VERIFY_TOKEN } from './helpers.ts';
import { freePort } from './private-redis.ts';

/** `npm run start:ingress` as production runs it: a process configured by its environment. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));

let db: TestDatabase;
let tenant: string;
const prefix = uniquePrefix('main');

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await createTenant(db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
});

afterAll(async () => {
  await deleteKeys(redisUrl(), prefix);
  await db?.drop();
});

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

describe('main.ts', () => {
  it('a missing variable stops the process with one clear line and exit code 1', async () => {
    const p = run({ REDIS_URL: redisUrl(), META_VERIFY_TOKEN: VERIFY_TOKEN });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/DATABASE_URL: is required but not set/);
    expect(p.output()).toMatch(/META_APP_SECRET: is required but not set/);
  });

  it('serves webhooks, and on SIGTERM drains and exits 0', async () => {
    const port = await freePort();
    const p = run({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl(),
      META_APP_SECRET: PLATFORM_SECRET,
      META_VERIFY_TOKEN: VERIFY_TOKEN,
      ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
      QUEUE_PREFIX: prefix,
      INGRESS_PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      await expect
        .poll(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status, { timeout: 20_000, interval: 100 })
        .toBe(200);
      const raw = buildTextWebhook({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, from: '254711000111', wamid: 'wamid.main-1', text: 'hello' });
      const res = await fetch(`${base}/webhooks/whatsapp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, PLATFORM_SECRET) },
        body: raw,
      });
      expect(res.status).toBe(200);
      const connection = new Redis(redisOptionsFromUrl(redisUrl()));
      const queue = new Queue(queueNames.inbound, { connection, prefix });
      try {
        // the forwarder moves it from the hand-off stream into the queue within milliseconds
        await expect.poll(async () => (await queue.getJob(inboundJobId(tenant, 'wamid.main-1')))?.data.tenantId, { timeout: 5_000 }).toBe(tenant);
      } finally {
        await queue.close();
        connection.disconnect();
      }
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(p.output()).toMatch(/ingress stopped/);
      // no secret or message text in the logs at info
      expect(p.output()).not.toContain(PLATFORM_SECRET);
      expect(p.output()).not.toContain('hello');
    } finally {
      p.child.kill('SIGKILL');
    }
  });
});
