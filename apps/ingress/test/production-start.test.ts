/**
 * Ingress started exactly as its package's `start` script starts it in production (the esbuild
 * bundle, with the script's node flags: a capped old space keeps its memory small under load),
 * fed 48 webhooks at Meta's maximum size at once, redelivered like Meta on 503: those beyond
 * its memory budget for bodies in flight are shed with 503 + Retry-After, none crashes it (48 at
 * once did before the budget), and in the end every message is enqueued once.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { queueNames, redisOptionsFromUrl } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { buildWebhookObject, signBody, toMetaJson } from '@alphadome/whatsapp';
import { MAX_WEBHOOK_BYTES } from '../src/webhook-routes.ts';
import { createTenant, deleteKeys, META_DISPLAY_PHONE, META_PHONE_NUMBER_ID, PLATFORM_SECRET, uniquePrefix, VERIFY_TOKEN } from './helpers.ts';
import { freePort } from './private-redis.ts';

const pkgDir = fileURLToPath(new URL('../', import.meta.url));
const prefix = uniquePrefix('prod');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await createTenant(db.sql, { slug: 'kassangas', phoneNumberId: META_PHONE_NUMBER_ID });
});

afterAll(async () => {
  await deleteKeys(redisUrl(), prefix);
  await db?.drop();
});

/** The `start` script's argv (it must be `node … dist/main.mjs`), after building the bundle. */
async function startCommand(): Promise<string[]> {
  await new Promise<void>((resolve, reject) => {
    const build = spawn(process.execPath, ['build.mjs'], { cwd: pkgDir, stdio: ['ignore', 'ignore', 'inherit'] });
    build.once('error', reject);
    build.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ingress build exited ${code}`))));
  });
  const pkg = JSON.parse(await readFile(`${pkgDir}package.json`, 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(' ').filter(Boolean);
  expect(words[0]).toBe('node');
  expect(words.at(-1)).toBe('dist/main.mjs');
  return words.slice(1);
}

/** One POST of `n` text messages, each `textBytes` long, just under Meta's 3 MiB maximum. */
function maximumWebhook(batch: number, n: number, textBytes: number): string {
  const messages = Array.from({ length: n }, (_, i) => ({
    from: String(254_700_000_000 + i),
    id: `wamid.PROD${batch}x${i}`,
    timestamp: '1750300001',
    text: { body: `${'Habari! Ninahitaji gitaa. '.repeat(textBytes / 26)}#${i}` },
    type: 'text',
  }));
  const contacts = messages.map((m) => ({ profile: { name: 'Mteja' }, wa_id: m.from }));
  return toMetaJson(buildWebhookObject({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, contacts, messages }));
}

describe('the production start', () => {
  it('48 concurrent webhooks of 1,000 messages at Meta’s maximum size: the excess is shed with 503, nothing crashes, all 48,000 are enqueued once', async () => {
    const args = await startCommand();
    expect(args.some((a) => a.startsWith('--max-old-space-size='))).toBe(true);
    const port = await freePort();
    const child = spawn(process.execPath, args, {
      cwd: pkgDir,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl(),
        META_APP_SECRET: PLATFORM_SECRET,
        META_VERIFY_TOKEN: VERIFY_TOKEN,
        ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
        QUEUE_PREFIX: prefix,
        INGRESS_PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
    const connection = new Redis(redisOptionsFromUrl(redisUrl()));
    const inbound = new Queue(queueNames.inbound, { connection, prefix });
    const base = `http://127.0.0.1:${port}`;
    try {
      await expect.poll(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status, { timeout: 20_000, interval: 100 }).toBe(200);
      const bodies = Array.from({ length: 48 }, (_, b) => maximumWebhook(b, 1000, 2_900));
      for (const body of bodies) {
        expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_WEBHOOK_BYTES - 200_000);
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_WEBHOOK_BYTES);
      }
      let shed = 0;
      const late: string[] = [];
      const outcomes = await Promise.all(
        bodies.map(async (body) => {
          // as Meta does: redeliver on 5xx, after a pause
          for (let attempt = 1; attempt <= 60; attempt++) {
            const res = await fetch(`${base}/webhooks/whatsapp`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, PLATFORM_SECRET) },
              body,
            });
            if (res.status !== 503) return res.status;
            const { message } = (await res.json()) as { message: string };
            // shed by the memory budget (Retry-After), or, on a machine this loaded, a Redis
            // enqueue or routing lookup past its deadline: each a 503 that Meta redelivers
            if (res.headers.get('retry-after') === '1') shed++;
            else late.push(message);
            await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          }
          return 503;
        }),
      );
      expect(outcomes, stderr).toEqual(Array(48).fill(200));
      expect(shed).toBeGreaterThan(0);
      for (const m of late) expect(m).toMatch(/^(queue|tenant routing) unavailable, retry later$/);
      const counts = await inbound.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed');
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(48_000);
      expect(child.exitCode, stderr).toBeNull();
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const peakMb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^alphadome_ingress_shed_total ${shed}$`, 'm'));
      process.stdout.write(`production start: 48 × ${(Buffer.byteLength(bodies[0]!) / 1048576).toFixed(2)} MiB webhooks at once, ${shed} answers 503 (shed), ${late.length} 503 past a deadline, peak RSS ${peakMb.toFixed(0)} MB\n`);
    } finally {
      child.kill('SIGKILL');
      await inbound.close();
      connection.disconnect();
    }
  }, 180_000);
});
