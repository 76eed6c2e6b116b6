import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateUser, getSecret, Keyring, onTenantChanged, withOperator, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { createHarness, expectFailure, type Harness } from './cli-harness.ts';

/**
 * Provisioning Kassangas Music Shop with the real CLI, the way the README tells an operator to,
 * against a real Postgres and Redis.
 */
let db: TestDatabase;
let h: Harness;
let stopListening: () => Promise<void>;
const announced: string[] = [];
const prefix = `cli-test-${randomBytes(4).toString('hex')}`;

// distinctive values, so a leak anywhere is found by a plain substring search
const TOKEN = `EAAG${randomBytes(24).toString('hex')}`;
const TOKEN2 = `EAAG${randomBytes(24).toString('hex')}`;
const APP_SECRET = `appsecret${randomBytes(12).toString('hex')}`;
const OPENAI_KEY = `sk-test-${randomBytes(16).toString('hex')}`;
const PASSWORD = `pass word ${randomBytes(8).toString('hex')}`;
const PASSWORD2 = `new pass ${randomBytes(8).toString('hex')}`;
const SECRETS = [TOKEN, TOKEN2, APP_SECRET, OPENAI_KEY, PASSWORD, PASSWORD2];

interface TenantJson {
  id: string;
  slug: string;
  isActive: boolean;
  credentialStatus: string;
  tokenExpiresAt: string | null;
  displayPhone: string | null;
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await createHarness({
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: prefix,
    ENCRYPTION_KEYS: TEST_KEYRING_SPEC,
  });
  stopListening = await onTenantChanged(redisUrl(), prefix, (id) => announced.push(id));
});

afterAll(async () => {
  await stopListening?.();
  await h?.cleanup();
  await db?.drop();
});

describe('alphadome CLI: provisioning Kassangas', () => {
  it('migrate is idempotent on a migrated database and applies everything to an empty one', { timeout: 60_000 }, async () => {
    const again = await h.json<{ applied: string[]; skipped: string[] }>(['migrate']);
    expect(again.applied).toEqual([]);
    expect(again.skipped).toContain('0001_roles_and_tenants.sql');

    const empty = await createTestDatabase({ empty: true });
    try {
      const r = await h.cli(['migrate'], { env: { DATABASE_URL: empty.url } });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/applied 0001_roles_and_tenants\.sql/);
    } finally {
      await empty.drop();
    }
  });

  // ~35 child processes at ~0.5 s of start-up each: generous for a loaded CI machine
  it('creates, configures and fills a tenant end to end', { timeout: 180_000 }, async () => {
    const { tenant } = await h.json<{ tenant: TenantJson }>([
      'tenant', 'create', '--slug', 'kassangas', '--name', 'Kassangas Music Shop',
      '--phone-number-id', '106540352242922', '--display-phone', '+254702245555',
    ]);
    expect(tenant).toMatchObject({ slug: 'kassangas', isActive: true, credentialStatus: 'missing', displayPhone: '+254702245555' });

    // credentials: the token from a file (with the newline editors leave), the app secret from stdin
    const tokenFile = await h.file('token.txt', `${TOKEN}\n`);
    const openaiFile = await h.file('openai.txt', OPENAI_KEY);
    const set = await h.json<{ stored: string[]; credentialStatus: string; tokenExpiresAt: string }>(
      [
        'tenant', 'set-credentials', 'kassangas', '--whatsapp-token-file', tokenFile,
        '--app-secret-file', '-', '--openai-key-file', openaiFile, '--token-expires-at', '2027-01-31T00:00:00Z',
      ],
      { input: `${APP_SECRET}\r\n` },
    );
    expect(set).toMatchObject({
      stored: ['whatsapp_token', 'meta_app_secret', 'openai_key'],
      credentialStatus: 'valid',
      tokenExpiresAt: '2027-01-31T00:00:00.000Z',
    });
    // the platform's Meta app is used by this tenant: storing its own secret is worth a warning
    expect(h.runs.at(-1)!.stderr).toMatch(/warning: .*own-meta-app/);
    // a new token from stdin replaces the first one
    const human = await h.cli(['tenant', 'set-credentials', 'kassangas', '--whatsapp-token-file', '-'], { input: `${TOKEN2}\n` });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^stored whatsapp_token for kassangas \(sealed with key test1\)$/m);

    const keyring = Keyring.fromSpec(TEST_KEYRING_SPEC);
    const stored = await withTenant(db.sql, tenant.id, async (tx) => ({
      token: await getSecret(tx, keyring, tenant.id, 'whatsapp_token'),
      appSecret: await getSecret(tx, keyring, tenant.id, 'meta_app_secret'),
      openai: await getSecret(tx, keyring, tenant.id, 'openai_key'),
    }));
    expect(stored).toEqual({ token: TOKEN2, appSecret: APP_SECRET, openai: OPENAI_KEY });

    // FAQ from CSV (quoted commas, a line break in a cell, Swahili) and from JSON
    const csv = await h.file(
      'faq.csv',
      [
        'question,answer,language',
        'Where is the shop?,"Moi Avenue, Nairobi, next to the bank.",en',
        '"Do you sell guitars?","Yes: Yamaha, Fender and local makers.\nAsk for a price list.",',
        'Mnafungua saa ngapi?,Saa mbili asubuhi hadi saa kumi na mbili jioni.,sw',
        '',
      ].join('\n'),
    );
    const json = await h.file(
      'faq.json',
      JSON.stringify([
        { question: 'Do you deliver?', answer: 'Yes, countrywide with G4S.' },
        { question: 'Do you repair instruments?', answer: 'Yes, bring it to the shop.', language: 'en' },
      ], null, 2),
    );
    const [fromCsv, fromJson] = await Promise.all([
      h.json<{ inserted: number; updated: number; total: number }>(['faq', 'import', 'kassangas', csv]),
      h.json<{ inserted: number }>(['faq', 'import', 'kassangas', json]),
    ]);
    expect(fromCsv).toMatchObject({ inserted: 3, updated: 0 });
    expect(fromJson).toMatchObject({ inserted: 2 });
    // importing the same file again changes answers in place, adds nothing
    expect(await h.json(['faq', 'import', 'kassangas', csv])).toMatchObject({ inserted: 0, updated: 3, total: 5 });

    const [added, tpl, tplSw, prompt] = await Promise.all([
      h.json<{ faq: { id: string } }>(['faq', 'add', 'kassangas', '--question', 'Do you sell pianos?', '--answer', 'Yes, Yamaha and Kawai.']),
      h.json<{ created: boolean; template: { triggers: string[] } }>([
        'template', 'add', 'kassangas', '--name', 'hours', '--triggers', 'hours, Open,saa ngapi', '--body', 'We are open 8am to 6pm, Monday to Saturday.',
      ]),
      h.json<{ created: boolean }>(['template', 'add', 'kassangas', '--name', 'hours', '--language', 'sw', '--triggers', 'saa ngapi', '--body', 'Tuko wazi saa mbili hadi saa kumi na mbili.']),
      h.json<{ changed: string[] }>(
        [
          'tenant', 'update', 'kassangas', '--system-prompt-file', '-', '--send-rate', '40', '--debounce-ms', '1500',
          '--escalation-phone', '+254700000001', '--escalation-email', 'Gideon@Kassangas.example', '--fallback-message', 'Asante! Gideon will reply soon.',
          '--model', 'gpt-4o-mini', '--waba-id', '102290129340398', '--bot', 'off',
        ],
        { input: 'You are the assistant of Kassangas Music Shop in Nairobi.\n' },
      ),
    ]);
    expect(added.faq.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tpl).toMatchObject({ created: true, template: { triggers: ['hours', 'open', 'saa ngapi'] } });
    expect(tplSw.created).toBe(true);
    expect(prompt.changed).toEqual(
      expect.arrayContaining(['systemPrompt', 'sendRatePerSecond', 'debounceMs', 'botEnabled', 'wabaId', 'aiModel']),
    );
    // same (name, language): replaced, not duplicated
    expect(await h.json(['template', 'add', 'kassangas', '--name', 'hours', '--triggers', 'hours,open', '--body', 'Open 8 to 6.'])).toMatchObject({
      created: false,
    });

    const [faqList, tplList, show, list] = await Promise.all([
      h.json<{ faqs: { question: string; language: string }[] }>(['faq', 'list', 'kassangas']),
      h.json<{ templates: { name: string; language: string; body: string }[] }>(['template', 'list', 'kassangas']),
      h.json<{
        tenant: TenantJson & { wabaId: string; aiModel: string };
        settings: Record<string, unknown>;
        secrets: { kind: string; keyId: string; updatedAt: string }[];
        counts: { faq: number; templates: number };
        recentAudit: { action: string }[];
      }>(['tenant', 'show', 'kassangas']),
      h.json<{ tenants: { slug: string; credentialStatus: string }[] }>(['tenant', 'list']),
    ]);
    expect(faqList.faqs).toHaveLength(6);
    expect(faqList.faqs.find((f) => f.language === 'sw')?.question).toBe('Mnafungua saa ngapi?');
    expect(tplList.templates.map((t) => [t.name, t.language, t.body])).toEqual([
      ['hours', 'en', 'Open 8 to 6.'],
      ['hours', 'sw', 'Tuko wazi saa mbili hadi saa kumi na mbili.'],
    ]);
    expect(show.tenant).toMatchObject({ slug: 'kassangas', wabaId: '102290129340398', aiModel: 'gpt-4o-mini', credentialStatus: 'valid' });
    // a new token without a date: the old expiry belonged to the old token
    expect(show.tenant.tokenExpiresAt).toBeNull();
    expect(show.settings).toMatchObject({
      botEnabled: false,
      sendRatePerSecond: 40,
      debounceMs: 1500,
      escalationPhone: '+254700000001',
      escalationEmail: 'gideon@kassangas.example',
      systemPrompt: 'You are the assistant of Kassangas Music Shop in Nairobi.',
      fallbackMessage: 'Asante! Gideon will reply soon.',
    });
    expect(show.secrets.map((s) => [s.kind, s.keyId])).toEqual([
      ['meta_app_secret', 'test1'],
      ['openai_key', 'test1'],
      ['whatsapp_token', 'test1'],
    ]);
    expect(show.counts).toEqual({ faq: 6, templates: 2 });
    expect(show.recentAudit.map((a) => a.action)).toContain('secrets.set');
    expect(list.tenants).toEqual([expect.objectContaining({ slug: 'kassangas', credentialStatus: 'valid' })]);

    // human-readable show names the secrets, not their values
    const showText = await h.cli(['tenant', 'show', 'kassangas']);
    expect(showText.code).toBe(0);
    expect(showText.stdout).toMatch(/whatsapp_token\s+key test1\s+updated /);

    // enable / disable
    expect((await h.json<{ tenant: TenantJson }>(['tenant', 'disable', 'kassangas'])).tenant.isActive).toBe(false);
    expect((await h.cli(['tenant', 'list'])).stdout).toMatch(/kassangas\s+disabled/);
    expect((await h.json<{ tenant: TenantJson }>(['tenant', 'enable', 'kassangas'])).tenant.isActive).toBe(true);

    // dashboard accounts: the owner, then an operator-driven reset
    const pw = await h.file('pw.txt', `${PASSWORD}\n`);
    const owner = await h.json<{ user: { email: string; role: string; tenantId: string } }>([
      'user', 'create', '--email', 'gideon@kassangas.example', '--role', 'owner', '--tenant', 'kassangas', '--password-file', pw,
    ]);
    expect(owner.user).toMatchObject({ email: 'gideon@kassangas.example', role: 'owner', tenantId: tenant.id });
    const reset = await h.cli(['user', 'set-password', '--email', 'Gideon@kassangas.example', '--password-file', '-'], { input: PASSWORD2 });
    expect(reset.code).toBe(0);
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', PASSWORD))).toBeNull();
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', PASSWORD2))).not.toBeNull();

    // every change was announced to the workers
    await new Promise((r) => setTimeout(r, 100));
    expect(announced.filter((id) => id === tenant.id).length).toBeGreaterThanOrEqual(12);
  });

  it('keys rotate re-seals every secret under the first key and keeps it readable', { timeout: 60_000 }, async () => {
    // a second tenant whose secrets were sealed while test0 was the active key
    const oldFirst = TEST_KEYRING_SPEC.split(',').reverse().join(',');
    const { tenant } = await h.json<{ tenant: TenantJson }>([
      'tenant', 'create', '--slug', 'second-shop', '--name', 'Second', '--phone-number-id', '200000000000002', '--platform',
    ]);
    // routing changes go through the operator function; a taken number changes nothing
    const [taken, moved, secondPlatform] = await Promise.all([
      h.inProcess(['tenant', 'update', 'second-shop', '--phone-number-id', '106540352242922', '--name', 'Renamed']),
      h.inProcess(['tenant', 'update', 'second-shop', '--phone-number-id', '200000000000003', '--json']),
      h.inProcess(['tenant', 'create', '--slug', 'third', '--name', 'Third', '--phone-number-id', '300000000000003', '--platform']),
    ]);
    expectFailure(taken, 1, 'phone number id 106540352242922 already belongs to another tenant');
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout).changed).toEqual(['phoneNumberId']);
    expectFailure(secondPlatform, 1, 'tenant "second-shop" is already the platform tenant');
    const [routed] = await db.sql<{ client_name: string; whatsapp_phone_number_id: string }[]>`
      select client_name, whatsapp_phone_number_id from alphadome.bot_tenants where slug = 'second-shop'`;
    expect(routed).toEqual({ client_name: 'Second', whatsapp_phone_number_id: '200000000000003' });

    await h.json(['tenant', 'set-credentials', 'second-shop', '--whatsapp-token-file', '-'], { input: 'EAAGsecondtoken', env: { ENCRYPTION_KEYS: oldFirst } });
    await h.json(['tenant', 'set-credentials', 'second-shop', '--openai-key-file', '-'], { input: 'sk-second', env: { ENCRYPTION_KEYS: oldFirst } });

    const rotated = await h.json<{ activeKeyId: string; resealed: number; secrets: number; failed: number }>(['keys', 'rotate']);
    expect(rotated).toMatchObject({ activeKeyId: 'test1', resealed: 2, secrets: 5, failed: 0 });
    const again = await h.cli(['keys', 'rotate']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/re-sealed 0 of 5 secret\(s\) across 2 tenant\(s\) under key test1/);

    // readable with the new key alone: the old one can now leave ENCRYPTION_KEYS
    const newOnly = Keyring.fromSpec(TEST_KEYRING_SPEC.split(',')[0]);
    const [shop] = await withOperator(db.sql, (tx) => tx<{ id: string }[]>`select id from alphadome.admin_list_tenants() where slug = 'kassangas'`);
    const read = async (id: string, kind: 'whatsapp_token' | 'openai_key') => withTenant(db.sql, id, (tx) => getSecret(tx, newOnly, id, kind));
    expect(await read(tenant.id, 'whatsapp_token')).toBe('EAAGsecondtoken');
    expect(await read(tenant.id, 'openai_key')).toBe('sk-second');
    expect(await read(shop!.id, 'whatsapp_token')).toBe(TOKEN2);
    const audit = await db.sql<{ action: string }[]>`select action from alphadome.bot_audit_log where action = 'secrets.rotated'`;
    expect(audit.length).toBe(4);
    const platform = await db.sql<{ action: string }[]>`select action from alphadome.platform_audit_log where action = 'keys.rotated'`;
    expect(platform.length).toBe(2);
  });

  it('an unreachable Redis is a warning, not an error', async () => {
    const r = await h.cli(['template', 'add', 'kassangas', '--name', 'thanks', '--triggers', 'asante,thanks', '--body', 'Karibu!'], {
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/added canned template thanks/);
    expect(r.stderr).toMatch(/^alphadome: warning: could not reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('never prints a secret, and never writes one to the audit log', async () => {
    expect(h.runs.length).toBeGreaterThan(20);
    for (const run of h.runs) {
      for (const secret of SECRETS) {
        expect(run.stdout.includes(secret) || run.stderr.includes(secret), `alphadome ${run.args.join(' ')} printed a secret`).toBe(false);
      }
    }
    const details = await db.sql<{ detail: unknown }[]>`select detail from alphadome.bot_audit_log`;
    const platform = await db.sql<{ detail: unknown }[]>`select detail from alphadome.platform_audit_log`;
    const text = JSON.stringify([...details, ...platform]);
    expect(text).toContain('whatsapp_token');
    for (const secret of SECRETS) expect(text.includes(secret)).toBe(false);
    // nor in plaintext anywhere in the tenants table
    const rows = await db.sql`select * from alphadome.bot_tenants`;
    for (const secret of SECRETS) expect(JSON.stringify(rows).includes(secret)).toBe(false);
    const dump = await db.sql<{ ciphertext: Buffer }[]>`select ciphertext from alphadome.bot_tenant_secrets`;
    for (const { ciphertext } of dump) for (const secret of SECRETS) expect(ciphertext.includes(secret)).toBe(false);
  });

  it('prints help and refuses secrets on the command line', async () => {
    const [help, argv] = await Promise.all([
      h.cli(['tenant', 'set-credentials', '--help']),
      h.cli(['tenant', 'set-credentials', 'kassangas', '--whatsapp-token', TOKEN]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--whatsapp-token-file <file>/);
    expectFailure(argv, 2, /^alphadome: unknown option '--whatsapp-token'/);
    // the rejected value is not echoed back
    h.runs.pop();
    expect(argv.stderr.includes(TOKEN)).toBe(false);
  });
});
