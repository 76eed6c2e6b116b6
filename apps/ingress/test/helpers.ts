import { expect } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keyring, putSecret, withTenant, type Sql } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { signBody } from '@alphadome/whatsapp';
import { buildIngress } from '../src/app.ts';
import { createIngressDeps, loadIngressConfig, type IngressDepsOptions, type OpenedIngressDeps } from '../src/deps.ts';
import { createIngressQueues, type IngressQueues } from '../src/queues.ts';
import { handoffStreamKey } from '../src/handoff.ts';

export const PLATFORM_SECRET = 'platform-app-secret-for-tests';
export const VERIFY_TOKEN = 'verify-token-for-tests';
export const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);

/** Meta's documentation numbers, as used by the @alphadome/whatsapp fixtures. */
export const META_PHONE_NUMBER_ID = '106540352242922';
export const META_DISPLAY_PHONE = '15550783881';
/** The second WABA of the fixtures' batch.json. */
export const SECOND_PHONE_NUMBER_ID = '110200345678901';

export interface TenantInput {
  id?: string;
  slug: string;
  name?: string;
  phoneNumberId: string | null;
  active?: boolean;
  ownMetaApp?: boolean;
  /** the tenant's own Meta app secret, sealed with the test keyring */
  appSecret?: string;
}

export async function createTenant(sql: Sql, t: TenantInput): Promise<string> {
  const id = t.id ?? randomUUID();
  await withTenant(sql, id, async (tx) => {
    await tx`insert into alphadome.bot_tenants (id, slug, client_name, whatsapp_phone_number_id, is_active, own_meta_app)
             values (${id}, ${t.slug}, ${t.name ?? t.slug}, ${t.phoneNumberId}, ${t.active ?? true}, ${t.ownMetaApp ?? false})`;
    if (t.appSecret !== undefined) await putSecret(tx, keyring, id, 'meta_app_secret', t.appSecret);
  });
  return id;
}

export interface Harness {
  db: TestDatabase;
  deps: OpenedIngressDeps;
  app: FastifyInstance;
  prefix: string;
  queues: IngressQueues;
  /** waits until the forwarder has moved everything in the hand-off stream into the queues */
  settle(): Promise<void>;
  /** all jobs of a queue, any state (after settle) */
  jobs(queue: 'inbound' | 'status'): Promise<Job[]>;
  /** empties both queues (between tests) */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions extends IngressDepsOptions {
  redisUrl?: string;
  env?: Record<string, string | undefined>;
  /** reuse a database (several apps on one) */
  db?: TestDatabase;
}

export function uniquePrefix(name: string): string {
  return `adt-ingress-${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A real ingress on a fresh database and a unique queue prefix, driven with app.inject. */
export async function startHarness(name: string, opts: HarnessOptions = {}): Promise<Harness> {
  const db = opts.db ?? (await createTestDatabase());
  const prefix = uniquePrefix(name);
  const config = loadIngressConfig({
    DATABASE_URL: db.url,
    REDIS_URL: opts.redisUrl ?? redisUrl(),
    META_APP_SECRET: PLATFORM_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    QUEUE_PREFIX: prefix,
    ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...opts.env,
  });
  const deps = await createIngressDeps(config, opts);
  const app = buildIngress(deps);
  await app.ready();
  // as an orchestrator would: send traffic once /readyz says so (the producer fails fast until connected)
  if (deps.redis.status !== 'ready') await once(deps.redis, 'ready');
  // the tests' own view of the queues (in 'stream' mode ingress itself never opens them)
  const inspect = new Redis(opts.redisUrl ?? redisUrl());
  inspect.on('error', () => {});
  const queues = createIngressQueues(inspect, prefix);
  const ownsDb = opts.db === undefined;
  const settle = async (): Promise<void> => {
    if (deps.forwarder === null) return;
    const key = handoffStreamKey(prefix);
    // generous: a forwarder (re)started at nice 10 on a busy 2-core machine takes seconds to load
    const deadline = Date.now() + 30_000;
    for (;;) {
      const length = await deps.redis.xlen(key);
      const pending = await deps.redis.xpending(key, 'forwarder').then(
        (r) => Number((r as unknown[])[0] ?? 0),
        () => 0,
      );
      if (length === 0 && pending === 0) return;
      if (Date.now() > deadline) throw new Error(`hand-off stream not drained: ${length} entries, ${pending} pending`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    db,
    deps,
    app,
    prefix,
    queues,
    settle,
    async jobs(queue) {
      await settle();
      return queues[queue].getJobs(['wait', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children']);
    },
    async drain() {
      await settle();
      await queues.inbound.obliterate({ force: true });
      await queues.status.obliterate({ force: true });
    },
    async close() {
      await app.close();
      if (inspect.status === 'ready') {
        await queues.inbound.obliterate({ force: true }).catch(() => {});
        await queues.status.obliterate({ force: true }).catch(() => {});
      }
      await deps.close();
      await Promise.allSettled([queues.inbound.close(), queues.status.close()]);
      inspect.disconnect();
      await deleteKeys(opts.redisUrl ?? redisUrl(), prefix);
      if (ownsDb) await db.drop();
    },
  };
}

/** Whatever is left under a queue prefix (events streams, meta). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // a Redis that is gone took the keys with it
  } finally {
    redis.disconnect();
  }
}

export interface PostOptions {
  path?: string;
  secret?: string;
  /** override the signature header entirely (undefined = omit it) */
  signature?: string | undefined;
  contentType?: string;
}

export function post(app: FastifyInstance, body: string | Buffer, opts: PostOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
  const signature = 'signature' in opts ? opts.signature : signBody(body, opts.secret ?? PLATFORM_SECRET);
  if (signature !== undefined) headers['x-hub-signature-256'] = signature;
  return app.inject({ method: 'POST', url: opts.path ?? '/webhooks/whatsapp', headers, payload: body });
}

/** Sum of a Prometheus counter in /metrics text (all label sets, or the one given). */
export function metricValue(text: string, name: string, labels?: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels !== undefined && m[2] !== `{${labels}}`) continue;
    sum += Number(m[3]);
  }
  return sum;
}

export async function metricsText(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  return res.body;
}

/** The options every ingress job must carry (retries with backoff, kept a day, failures kept). */
export function expectIngressJobOptions(opts: Job['opts']): void {
  expect(opts.attempts).toBe(8);
  expect(opts.backoff).toEqual({ type: 'exponential', delay: 1000 });
  expect(opts.removeOnComplete).toEqual({ age: 86400, count: 10000 });
  expect(opts.removeOnFail).toBe(false);
}
