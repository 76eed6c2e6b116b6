/**
 * Dashboard conversation list: server time and page weight for a tenant with 10,000 messages
 * in 500 conversations. A fresh migrated database, the dashboard listening on loopback in this
 * process, and the load (~300 GET /conversations as the owner, 4 at a time) driven by a child
 * process so the client's work never shares this event loop. Server time is Fastify's own
 * (reply.elapsedTime in onResponse: from the request's arrival to the response sent). First
 * load = the bytes of the page and its one stylesheet, headers included (no scripts, no images).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTenant, createUser, Keyring, migrate, withOperator, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC } from '@alphadome/testkit/database';
import { buildDashboard } from '../apps/dashboard/src/app.ts';

const log = (line: string) => process.stderr.write(`[dashboard] ${line}\n`);

const CONVERSATIONS = 500;
const MESSAGES = 10_000;
const REQUESTS = 300;
const CONCURRENCY = 4;
const PASSWORD = 'bench password 12345';

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

// the load generator: a separate node process with fetch, N workers over a shared counter
const loadScript = `
const [url, cookie, total, concurrency] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let n = 0, failed = 0;
async function worker() {
  while (n < total) {
    n++;
    const res = await fetch(url, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) failed++;
  }
}
Promise.all(Array.from({ length: concurrency }, worker)).then(() => { process.stdout.write(JSON.stringify({ total: n, failed })); });
`;

function runLoad(url: string, cookie: string): Promise<{ total: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', loadScript, url, cookie, String(REQUESTS), String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { total: number; failed: number }) : reject(new Error(`load generator exited ${code}`))));
  });
}

function headerBytes(res: Response): number {
  let n = `HTTP/1.1 ${res.status} ${res.statusText}\r\n`.length + 2;
  res.headers.forEach((v, k) => (n += k.length + 2 + Buffer.byteLength(v) + 2));
  return n;
}

export async function runDashboardBench(): Promise<{ p95_ms: number; first_load_kb: number }> {
  if (!process.env.DATABASE_URL) log('DATABASE_URL unset: using postgres://postgres@127.0.0.1:5432/postgres');
  const db = await createTestDatabase({ empty: true });
  try {
    await migrate(db.sql);
    const shop = await createTenant(db.sql, { slug: 'kassangas', clientName: 'Kassangas Music Shop', phoneNumberId: '106540352242922' });
    const other = await createTenant(db.sql, { slug: 'other', clientName: 'Other shop', phoneNumberId: '200000000000001' });
    const email = 'gideon@kassangas.example';
    await withOperator(db.sql, (tx) => createUser(tx, { email, role: 'owner', tenantId: shop.id, password: PASSWORD }));

    // 500 contacts and conversations, 10,000 messages alternating in/out over the last 30 days
    const t0 = performance.now();
    for (const [tenant, convs, msgs] of [
      [shop.id, CONVERSATIONS, MESSAGES],
      [other.id, 100, 2_000],
    ] as const) {
      await withTenant(db.sql, tenant, async (tx) => {
        await tx`insert into alphadome.bot_contacts (wa_id, name, last_inbound_at)
                 select '2547' || lpad(g::text, 8, '0'), 'Customer ' || g, now() - (g || ' minutes')::interval
                   from generate_series(1, ${convs}) g`;
        await tx`insert into alphadome.bot_conversations (contact_id, wa_id, unread_count, last_message_at, last_inbound_at, mode)
                 select k.id, k.wa_id, (random() * 3)::int, k.last_inbound_at, k.last_inbound_at,
                        case when random() < 0.05 then 'human' else 'bot' end
                   from alphadome.bot_contacts k`;
        await tx`insert into alphadome.bot_message_logs
                   (conversation_id, direction, wamid, idempotency_key, wa_id, message_type, body, status, answer_path, created_at)
                 select c.id, case when g % 2 = 0 then 'inbound' else 'outbound' end,
                        case when g % 2 = 0 then 'wamid.bench' || g end, case when g % 2 = 1 then 'bench:' || g end,
                        c.wa_id, 'text', 'Message number ' || g || ': do you have guitars, keyboards or drums in stock today?',
                        case when g % 2 = 1 then 'delivered' end, case when g % 2 = 1 then 'faq' end,
                        now() - ((${msgs} - g) || ' minutes')::interval
                   from generate_series(1, ${msgs}) g
                   join (select id, wa_id, row_number() over (order by id) - 1 as i from alphadome.bot_conversations) c
                     on c.i = g % ${convs}`;
        // the conversations' last message time as the worker keeps it
        await tx`update alphadome.bot_conversations c set last_message_at = m.at
                   from (select conversation_id, max(created_at) as at from alphadome.bot_message_logs group by 1) m
                  where m.conversation_id = c.id`;
      });
    }
    await db.sql`analyze`;
    log(`seeded ${CONVERSATIONS} conversations and ${MESSAGES} messages in ${Math.round(performance.now() - t0)} ms`);

    const app = await buildDashboard({
      sql: db.sql,
      redisUrl: redisUrl(),
      queuePrefix: `bdash${randomBytes(3).toString('hex')}`,
      keyring: Keyring.fromSpec(TEST_KEYRING_SPEC),
      logger: false,
      loginRateLimit: { max: 1000, windowMs: 60_000 },
    });
    const serverMs: number[] = [];
    app.addHook('onResponse', async (req, reply) => {
      if (req.routeOptions.url === '/conversations' && reply.statusCode === 200) serverMs.push(reply.elapsedTime);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      // log in as a browser would: the login form's token cookie, then the session cookie
      const form = await fetch(`${base}/`);
      const loginCookie = (form.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
      const login = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token, email, password: PASSWORD }).toString(),
      });
      const session = login.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('ad_session='));
      if (login.status !== 303 || !session) throw new Error(`login failed: ${login.status}`);

      // first load: the page and its stylesheet
      const page = await fetch(`${base}/conversations`, { headers: { cookie: session } });
      const html = Buffer.from(await page.arrayBuffer());
      if (page.status !== 200 || !html.includes('Customer 1')) throw new Error(`conversation list: ${page.status}`);
      const css = await fetch(`${base}/style.css`);
      const cssBytes = (await css.arrayBuffer()).byteLength;
      const firstLoadBytes = headerBytes(page) + html.byteLength + headerBytes(css) + cssBytes;

      // warm-up, then the measured run from the load process
      for (let i = 0; i < 20; i++) await (await fetch(`${base}/conversations`, { headers: { cookie: session } })).arrayBuffer();
      serverMs.length = 0;
      const load = await runLoad(`${base}/conversations`, session);
      if (load.failed > 0) throw new Error(`${load.failed} of ${load.total} requests failed`);
      const sorted = [...serverMs].sort((x, y) => x - y);
      log(`${sorted.length} requests: p50 ${round(percentile(sorted, 50))} ms, p95 ${round(percentile(sorted, 95))} ms, max ${round(sorted[sorted.length - 1] ?? 0)} ms (server time)`);
      log(`first load: HTML ${html.byteLength} B + CSS ${cssBytes} B (+ headers)`);
      return { p95_ms: round(percentile(sorted, 95)), first_load_kb: round(firstLoadBytes / 1024, 1) };
    } finally {
      await app.close();
    }
  } finally {
    await db.drop();
  }
}
