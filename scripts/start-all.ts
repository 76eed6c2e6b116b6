/**
 * `npm start`: the whole platform in one process for a first look — migrations, ingress,
 * worker, dashboard, the Graph API and OpenAI simulators (unless real ones are configured),
 * and a demo tenant, Kassangas Music Shop, with FAQ and canned replies. Type a message at the
 * `customer>` prompt to play a customer; the bot's answer is printed as it reaches the Graph
 * simulator. Production runs the apps separately (npm run start:ingress / :worker / :dashboard).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import {
  addFaq,
  addTemplate,
  ConfigError,
  importCatalog,
  createLogger,
  createSql,
  createTenant,
  findTenantIdBySlug,
  Keyring,
  loadConfig,
  migrate,
  putSecret,
  setCredentialStatus,
  upsertControlSettings,
  withTenant,
  type Sql,
} from '@alphadome/tenant-core';
import { startGraphSimulator, startOpenAISimulator, type GraphSimulator } from '@alphadome/testkit';
import { musicShopCatalog } from '@alphadome/testkit/music-catalog';
import { buildTextWebhook, signBody } from '@alphadome/whatsapp';
import { buildIngress } from '../apps/ingress/src/app.ts';
import { createIngressDeps, loadIngressConfig } from '../apps/ingress/src/deps.ts';
import { startWorker } from '../apps/worker/src/worker.ts';
import { buildDashboard } from '../apps/dashboard/src/app.ts';

const dataDir = new URL('../.data/', import.meta.url).pathname;
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const fail = (line: string): never => {
  process.stderr.write(`alphadome start: ${line}\n`);
  process.exit(1);
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Dev-only values kept under .data/ so restarts keep the same keys and demo secrets. */
function devSecrets(): { encryptionKeys: string; appSecret: string; verifyToken: string; demoToken: string } {
  const file = `${dataDir}dev-secrets.json`;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const s = {
    encryptionKeys: `dev1:${randomBytes(32).toString('base64')}`,
    appSecret: randomBytes(24).toString('hex'),
    verifyToken: randomBytes(12).toString('hex'),
    demoToken: `EAADEMO${randomBytes(24).toString('hex')}`,
  };
  writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

async function startPglite(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { unaccent } = await import('@electric-sql/pglite/contrib/unaccent');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create(`${dataDir}pglite`, { extensions: { pg_trgm, unaccent } });
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 100 });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function resolveRedis(): Promise<{ url: string; child?: ChildProcess }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  const local = 'redis://127.0.0.1:6379';
  if (await redisAnswers(local)) return { url: local };
  const port = await freePort();
  mkdirSync(`${dataDir}redis`, { recursive: true });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', `${dataDir}redis`], {
    stdio: 'ignore',
  });
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
  if (!spawned) {
    fail('no Redis at 127.0.0.1:6379 and no redis-server on PATH: install Redis (apt-get install redis-server, brew install redis) or set REDIS_URL');
  }
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  return { url, child };
}

const DEMO = {
  slug: 'kassangas',
  clientName: 'Kassangas Music Shop',
  phoneNumberId: '106540352242922',
  displayPhone: '+254702245555',
};

async function seedDemoTenant(sql: Sql, keyring: Keyring, token: string): Promise<string> {
  const existing = await findTenantIdBySlug(sql, DEMO.slug);
  if (existing) return existing;
  const tenant = await createTenant(sql, DEMO, { actor: 'npm-start' });
  await withTenant(sql, tenant.id, async (tx) => {
    await putSecret(tx, keyring, tenant.id, 'whatsapp_token', token);
    await setCredentialStatus(tx, tenant.id, 'valid');
    await upsertControlSettings(tx, tenant.id, {
      systemPrompt: 'You are the friendly assistant of Kassangas Music Shop in Nairobi, Kenya. Answer briefly.',
      escalationPhone: DEMO.displayPhone,
    });
    const faqs = [
      ['What are your opening hours?', 'We are open Monday to Saturday, 9am to 6pm, and closed on Sundays.'],
      ['Where is the shop located?', 'We are on Moi Avenue, Nairobi CBD, opposite the Hilton.'],
      ['Do you deliver?', 'Yes, we deliver within Nairobi for KES 300 and countrywide by courier.'],
      ['Do you accept M-Pesa?', 'Yes, pay with M-Pesa Till number 123456 or cash in the shop.'],
      ['Do you offer guitar lessons?', 'Yes, beginner guitar lessons run on Saturdays at 10am, KES 1,500 per class.'],
    ] as const;
    for (const [question, answer] of faqs) await addFaq(tx, tenant.id, { question, answer });
    await addTemplate(tx, tenant.id, {
      name: 'greeting',
      triggers: ['hi', 'hello', 'habari', 'mambo', 'jambo'],
      body: 'Karibu Kassangas Music Shop! Ask about instruments, prices, delivery or lessons.',
    });
    // a generated music-shop catalog, so "do you have guitars?" shows products
    await importCatalog(tx, musicShopCatalog(120));
  });
  return tenant.id;
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const dev = devSecrets();
  const cleanups: (() => Promise<void>)[] = [];

  let pglite: Awaited<ReturnType<typeof startPglite>> | undefined;
  if (!process.env.DATABASE_URL) {
    pglite = await startPglite();
    process.env.DATABASE_URL = pglite.url;
    process.env.DATABASE_POOL_MAX = '5';
    log(`database   embedded PGlite (data in .data/pglite)`);
  }
  const redis = await resolveRedis();
  process.env.REDIS_URL = redis.url;
  process.env.ENCRYPTION_KEYS ??= dev.encryptionKeys;
  process.env.META_APP_SECRET ??= dev.appSecret;
  process.env.META_VERIFY_TOKEN ??= dev.verifyToken;

  let graphSim: GraphSimulator | undefined;
  if (!process.env.GRAPH_API_BASE_URL) {
    graphSim = await startGraphSimulator();
    process.env.GRAPH_API_BASE_URL = graphSim.url;
    cleanups.push(() => graphSim!.close());
  }
  if (!process.env.OPENAI_BASE_URL) {
    const openaiSim = await startOpenAISimulator();
    process.env.OPENAI_BASE_URL = openaiSim.baseURL;
    process.env.OPENAI_API_KEY ??= 'sk-simulator';
    cleanups.push(() => openaiSim.close());
  }

  let config;
  try {
    config = loadConfig(process.env, ['DATABASE_URL', 'ENCRYPTION_KEYS', 'META_APP_SECRET', 'META_VERIFY_TOKEN']);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const logger = createLogger('alphadome', process.env.LOG_LEVEL ?? 'warn');
  const keyring = Keyring.fromSpec(config.ENCRYPTION_KEYS);
  const sql = createSql({ url: config.DATABASE_URL, max: pglite ? 5 : 10, name: 'alphadome-start', prepare: config.DATABASE_PREPARE === 'true' });

  const migrated = await migrate(sql, { keyring });
  log(`migrations ${migrated.applied.length} applied, ${migrated.skipped.length} already there`);
  const tenantId = await seedDemoTenant(sql, keyring, dev.demoToken);

  const ingressDeps = await createIngressDeps(loadIngressConfig(process.env), { logger: logger.child({ app: 'ingress' }) });
  const ingress = buildIngress(ingressDeps);
  await ingress.listen({ port: config.INGRESS_PORT, host: '127.0.0.1' });

  const worker = await startWorker({
    sql,
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    keyring,
    graphApiBaseUrl: config.GRAPH_API_BASE_URL,
    graphApiVersion: config.GRAPH_API_VERSION,
    openaiBaseUrl: config.OPENAI_BASE_URL,
    openaiApiKey: config.OPENAI_API_KEY,
    openaiModel: config.OPENAI_MODEL,
    concurrency: config.WORKER_CONCURRENCY,
    logger: logger.child({ app: 'worker' }),
  });

  const dashboard = await buildDashboard({
    sql,
    redisUrl: config.REDIS_URL,
    queuePrefix: config.QUEUE_PREFIX,
    keyring,
    logger: logger.child({ app: 'dashboard' }),
    publicUrl: `http://127.0.0.1:${config.DASHBOARD_PORT}`,
    secureCookies: false,
  });
  await dashboard.listen({ port: config.DASHBOARD_PORT, host: '127.0.0.1' });

  log('');
  log(`ingress    http://127.0.0.1:${config.INGRESS_PORT}/webhooks/whatsapp  (health /healthz, metrics /metrics)`);
  log(`dashboard  http://127.0.0.1:${config.DASHBOARD_PORT}/  (create a login: npx alphadome user create --email you@example.com --role owner --tenant kassangas --password-file -)`);
  log(`queues     http://127.0.0.1:${config.DASHBOARD_PORT}/admin/queues  (operators)`);
  log(`graph      ${config.GRAPH_API_BASE_URL}${graphSim ? '  (simulator)' : ''}`);
  log(`llm        ${config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'}${process.env.OPENAI_BASE_URL?.startsWith('http://127.0.0.1') ? '  (simulator)' : ''}`);
  log(`demo       tenant "${DEMO.clientName}" (${DEMO.slug}, phone number id ${DEMO.phoneNumberId}); dev secrets in .data/dev-secrets.json`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await ingress.close();
    await dashboard.close();
    await worker.close();
    await ingressDeps.close();
    await sql.end({ timeout: 5 });
    for (const c of cleanups) await c().catch(() => {});
    await pglite?.stop().catch(() => {});
    redis.child?.kill('SIGTERM');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  if (!graphSim || !process.stdin.isTTY) return;
  log('');
  log('Type a message as a customer of Kassangas (e.g. "hi", "do you deliver?", "cheapest keyboard"); Ctrl-C to stop.');
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'customer> ' });
  const customer = '254700000001';
  let n = 0;
  rl.prompt();
  rl.on('line', async (text) => {
    if (!text.trim()) return rl.prompt();
    const before = graphSim!.sentTo(DEMO.phoneNumberId).length;
    const raw = buildTextWebhook({
      phoneNumberId: DEMO.phoneNumberId,
      displayPhoneNumber: DEMO.displayPhone.slice(1),
      from: customer,
      wamid: `wamid.demo.${Date.now()}.${n++}`,
      text,
      name: 'Demo Customer',
    });
    const res = await fetch(`http://127.0.0.1:${config.INGRESS_PORT}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, config.META_APP_SECRET) },
      body: raw,
    });
    if (!res.ok) {
      log(`(ingress answered ${res.status})`);
      return rl.prompt();
    }
    try {
      const recs = await graphSim!.waitFor((r) => r.filter((x) => x.kind === 'send' && x.phoneNumberId === DEMO.phoneNumberId).length > before, 30_000);
      const sent = recs.filter((x) => x.kind === 'send' && x.phoneNumberId === DEMO.phoneNumberId).slice(before);
      for (const s of sent) {
        const body = s.body as { text?: { body?: string }; interactive?: { body?: { text?: string } }; image?: { caption?: string } };
        log(`bot> ${body.text?.body ?? body.interactive?.body?.text ?? body.image?.caption ?? JSON.stringify(body)}`);
      }
    } catch {
      log('(no reply within 30 s)');
    }
    rl.prompt();
  });
  void tenantId;
}

main().catch((err: unknown) => fail((err as Error).stack ?? String(err)));
