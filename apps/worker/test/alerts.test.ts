import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, type TestDatabase } from '@alphadome/testkit/database';
import { startGraphSimulator, type GraphSimulator } from '@alphadome/testkit';
import { startSmtpSink, type SmtpSink } from '@alphadome/testkit/smtp-sink';
import { createGraphClient } from '@alphadome/whatsapp';
import { startWorker, type WorkerHandle } from '../src/worker.ts';
import type { TokenExpiryReport } from '../src/processors/maintenance.ts';
import { createTenant, dropPrefix, keyring, uniquePrefix, type TestTenant } from './harness.ts';

/**
 * The token-expiry monitor (issue 5): alerts at 14, 3 and 1 days before expiry, once each,
 * through email (SMTP sink), WhatsApp from the platform's own number (Graph simulator) and
 * the log, every one recorded in the audit log. Time is simulated by moving the stored expiry
 * relative to now and running the maintenance job directly.
 */
const DAY = 24 * 3600 * 1000;
const APP_TOKEN = '1234567890123456|platform-app-secret-for-tests';

let db: TestDatabase;
let graph: GraphSimulator;
let smtp: SmtpSink;
let worker: WorkerHandle;
const prefix = uniquePrefix('al');
let T: TestTenant;
let U: TestTenant;
let V: TestTenant;
let P: TestTenant;

async function setExpiry(t: TestTenant, at: Date | null) {
  await db.sql`update alphadome.bot_tenants set whatsapp_token_expires_at = ${at} where id = ${t.id}`;
}

async function alertsOf(t: TestTenant) {
  return withTenant(db.sql, t.id, (tx) => tx<{ detail: Record<string, unknown> }[]>`
    select detail from alphadome.bot_audit_log where action = 'alert.sent' order by id`);
}

const run = async () => (await worker.runMaintenance('token-expiry')) as TokenExpiryReport;
const whatsappTo = (phone: string) => graph.sentTo(P.phoneNumberId).filter((r) => r.body.to === phone);

async function escalation(t: TestTenant, phone: string, email: string) {
  await withTenant(db.sql, t.id, (tx) => tx`update alphadome.bot_control_settings set escalation_phone = ${phone}, escalation_email = ${email}`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  graph = await startGraphSimulator({ seed: 7 });
  smtp = await startSmtpSink();
  T = await createTenant(db.sql, { slug: 'tembo-tours', name: 'Tembo Tours', phoneNumberId: '601000000000001' });
  U = await createTenant(db.sql, { slug: 'uhuru-umbrellas', name: 'Uhuru Umbrellas', phoneNumberId: '601000000000002' });
  V = await createTenant(db.sql, { slug: 'vuma-vans', name: 'Vuma Vans', phoneNumberId: '601000000000003' });
  P = await createTenant(db.sql, { slug: 'alphadome', name: 'Alphadome', phoneNumberId: '601000000000009' });
  await db.sql`update alphadome.bot_tenants set is_platform = true where id = ${P.id}`;
  await escalation(T, '+254 711 000 111', 'gideon@tembo.test');
  await escalation(U, '+254 722 000 222', 'owner@uhuru.test');
  await escalation(V, '+254 733 000 333', 'owner@vuma.test');
  worker = await startWorker({
    sql: db.sql,
    redisUrl: redisUrl(),
    prefix,
    keyring,
    graph: createGraphClient({ baseUrl: graph.url, timeoutMs: 2000 }),
    llm: null,
    transcribe: null,
    queues: [],
    maintenance: false,
    metaAppToken: APP_TOKEN,
    alerts: { smtpUrl: smtp.url, emailFrom: 'Alphadome <alerts@alphadome.test>', operatorEmails: ['ops@alphadome.test'] },
    logger: createLogger('worker-alerts-test', 'silent'),
  });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await graph?.close();
  await smtp?.close();
  await dropPrefix(prefix);
  await db?.drop();
});

describe('token-expiry monitor', () => {
  it('alerts 14, 3 and 1 days before expiry, once each, by email, WhatsApp from the platform number and the audit log', async () => {
    const stages: [number, number][] = [
      [13.5, 14],
      [2.5, 3],
      [0.5, 1],
    ];
    for (const [daysLeft, threshold] of stages) {
      await setExpiry(T, new Date(Date.now() + daysLeft * DAY));
      const first = await run();
      expect(first.alerts.filter((a) => a.tenantId === T.id)).toHaveLength(1);
      expect((await run()).alerts.filter((a) => a.tenantId === T.id)).toHaveLength(0); // once
      const audit = await alertsOf(T);
      expect(audit.at(-1)!.detail).toMatchObject({ kind: 'token_expiring', threshold_days: threshold });
    }
    const audit = await alertsOf(T);
    expect(audit.map((a) => a.detail['threshold_days'])).toEqual([14, 3, 1]);
    // every channel's outcome is in the audit row
    expect(audit.every((a) => (a.detail['channels'] as { channel: string; ok: boolean }[]).every((c) => c.ok))).toBe(true);

    const mails = await smtp.waitFor(3, { to: 'gideon@tembo.test' });
    expect(mails.map((m) => m.subject)).toEqual([
      expect.stringMatching(/expires in 14 days/),
      expect.stringMatching(/expires in 3 days/),
      expect.stringMatching(/expires in 1 day$/),
    ]);
    expect(mails[0]!.from).toBe('alerts@alphadome.test');
    expect(mails[0]!.text).toMatch(/set-credentials/);
    const ops = await smtp.waitFor(3, { to: 'ops@alphadome.test' });
    expect(ops.every((m) => m.subject.includes('Tembo Tours'))).toBe(true);

    const wa = whatsappTo('254711000111');
    expect(wa).toHaveLength(3);
    expect(wa.every((r) => r.token === P.token)).toBe(true); // sent with the platform's own number and token
    expect(wa[0]!.body.text?.body).toMatch(/expires at/);
    // stored in the platform tenant's message log, not the alerted tenant's
    const [logged] = await withTenant(db.sql, P.id, (tx) => tx<{ n: number }[]>`
      select count(*)::int as n from alphadome.bot_message_logs where answer_path = 'system' and wa_id = '254711000111' and wamid is not null`);
    expect(logged!.n).toBe(3);
  }, 30_000);

  it("reads the expiry from Meta's debug_token when the app token allows it", async () => {
    await setExpiry(U, null);
    graph.setToken(U.token, { expiresAt: new Date(Date.now() + 2.5 * DAY) });
    const report = await run();
    expect(graph.debugTokenCalls.some((c) => c.inputToken === U.token && c.appToken === APP_TOKEN)).toBe(true);
    const [row] = await db.sql<{ e: Date | null }[]>`select whatsapp_token_expires_at as e from alphadome.bot_tenants where id = ${U.id}`;
    expect(Math.abs(row!.e!.getTime() - (Date.now() + 2.5 * DAY))).toBeLessThan(60_000);
    expect(report.alerts.filter((a) => a.tenantId === U.id).map((a) => a.key)).toEqual([expect.stringMatching(/^token_expiring:3d:/)]);
    await smtp.waitFor(1, { to: 'owner@uhuru.test' });
    expect(whatsappTo('254722000222')).toHaveLength(1);
    // the token never appears in the audit log or a mail
    expect(JSON.stringify(await alertsOf(U))).not.toContain(U.token);
    for (const m of smtp.messages) expect(m.raw).not.toContain(U.token);
  }, 20_000);

  it('an expired token marks the credential expired (sends wait) and alerts once', async () => {
    await setExpiry(V, new Date(Date.now() - 3600_000));
    expect((await run()).alerts.filter((a) => a.tenantId === V.id).map((a) => a.kind)).toEqual(['token_expired']);
    expect((await run()).alerts.filter((a) => a.tenantId === V.id)).toHaveLength(0);
    const [row] = await db.sql<{ s: string }[]>`select credential_status as s from alphadome.bot_tenants where id = ${V.id}`;
    expect(row!.s).toBe('expired');
    await smtp.waitFor(1, { to: 'owner@vuma.test' });
  }, 20_000);
});
