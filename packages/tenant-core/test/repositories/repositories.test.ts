import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaq,
  AppError,
  appendAudit,
  appendPlatformAudit,
  authenticateUser,
  countFaqs,
  createTenant,
  createUser,
  deleteFaq,
  deleteTemplate,
  getControlSettings,
  getTenant,
  getTenantBySlug,
  hashPassword,
  importFaqs,
  listAudit,
  listFaqs,
  listPlatformAudit,
  listTemplates,
  listTenants,
  setCredentialStatus,
  setPassword,
  setTenantActive,
  updateFaq,
  updateTenant,
  updateTenantRouting,
  upsertControlSettings,
  upsertTemplate,
  verifyPassword,
  withOperator,
  withTenant,
  type Tenant,
} from '@alphadome/tenant-core';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';

let db: TestDatabase;
let shop: Tenant;
let other: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  shop = await createTenant(
    db.sql,
    { slug: 'kassangas', clientName: 'Kassangas Music Shop', phoneNumberId: '106540352242922', displayPhone: '+254702245555' },
    { actor: 'test' },
  );
  other = await createTenant(db.sql, { slug: 'other-shop', clientName: 'Other', phoneNumberId: '200000000000001' });
});

afterAll(async () => {
  await db?.drop();
});

describe('tenants', () => {
  it('creates with defaults, control settings and an audit entry', async () => {
    expect(shop).toMatchObject({
      slug: 'kassangas',
      clientName: 'Kassangas Music Shop',
      phoneNumberId: '106540352242922',
      displayPhone: '+254702245555',
      isActive: true,
      credentialStatus: 'missing',
      currency: 'KES',
      timezone: 'Africa/Nairobi',
    });
    const [settings, audit] = await withTenant(db.sql, shop.id, async (tx) => [
      await getControlSettings(tx, shop.id),
      await listAudit(tx, shop.id),
    ] as const);
    expect(settings.updatedAt).not.toBeNull();
    expect(settings.sendRatePerSecond).toBe(80);
    expect(audit.map((a) => a.action)).toEqual(['tenant.created']);
  });

  it('refuses a duplicate slug or phone number id with a conflict', async () => {
    await expect(createTenant(db.sql, { slug: 'kassangas', clientName: 'X', phoneNumberId: '300000000000001' })).rejects.toMatchObject({
      code: 'conflict',
      message: 'tenant "kassangas" already exists',
    });
    await expect(createTenant(db.sql, { slug: 'new-one', clientName: 'X', phoneNumberId: '106540352242922' })).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(createTenant(db.sql, { slug: 'Bad Slug', clientName: 'X', phoneNumberId: '1' })).rejects.toThrow();
  });

  it('reads by slug, updates allowed columns and routing, lists as operator', async () => {
    expect((await getTenantBySlug(db.sql, 'kassangas'))?.id).toBe(shop.id);
    expect(await getTenantBySlug(db.sql, 'nope')).toBeNull();
    const updated = await withTenant(db.sql, shop.id, async (tx) => {
      await setCredentialStatus(tx, shop.id, 'valid');
      await setTenantActive(tx, shop.id, false);
      return updateTenant(tx, shop.id, { clientName: 'Kassangas Music', wabaId: '102290129340398' });
    });
    expect(updated).toMatchObject({ clientName: 'Kassangas Music', isActive: false, credentialStatus: 'valid', wabaId: '102290129340398' });
    // the other tenant cannot see it
    expect(await withTenant(db.sql, other.id, (tx) => getTenant(tx, shop.id))).toBeNull();

    await withOperator(db.sql, (tx) => updateTenantRouting(tx, shop.id, { phoneNumberId: '106540352242923' }));
    await expect(
      withOperator(db.sql, (tx) => updateTenantRouting(tx, shop.id, { phoneNumberId: '200000000000001' })),
    ).rejects.toMatchObject({ code: 'conflict' });
    const list = await withOperator(db.sql, listTenants);
    expect(list.map((t) => [t.slug, t.phoneNumberId, t.isActive])).toEqual([
      ['kassangas', '106540352242923', false],
      ['other-shop', '200000000000001', true],
    ]);
    await withOperator(db.sql, (tx) => updateTenantRouting(tx, shop.id, { phoneNumberId: '106540352242922' }));
    await withTenant(db.sql, shop.id, (tx) => setTenantActive(tx, shop.id, true));
  });
});

describe('control settings', () => {
  it('upserts only the given fields and validates them', async () => {
    const s = await withTenant(db.sql, shop.id, (tx) =>
      upsertControlSettings(tx, shop.id, { debounceMs: 1500, systemPrompt: 'You are Kassangas.', settings: { a: 1 } }),
    );
    expect(s).toMatchObject({ debounceMs: 1500, systemPrompt: 'You are Kassangas.', sendRatePerSecond: 80, settings: { a: 1 } });
    await expect(withTenant(db.sql, shop.id, (tx) => upsertControlSettings(tx, shop.id, { sendRatePerSecond: 0 }))).rejects.toThrow();
  });
});

describe('templates', () => {
  it('upserts by (name, language) and normalises triggers', async () => {
    const first = await withTenant(db.sql, shop.id, (tx) =>
      upsertTemplate(tx, shop.id, { name: 'hours', triggers: 'Hours, open ,saa  ngapi,hours', body: 'We open 9-6.' }),
    );
    expect(first.created).toBe(true);
    expect(first.template.triggers).toEqual(['hours', 'open', 'saa ngapi']);
    const second = await withTenant(db.sql, shop.id, (tx) =>
      upsertTemplate(tx, shop.id, { name: 'hours', triggers: ['hours'], body: 'We open 8-6.' }),
    );
    expect(second.created).toBe(false);
    expect(second.template.id).toBe(first.template.id);
    await withTenant(db.sql, shop.id, (tx) =>
      upsertTemplate(tx, shop.id, { name: 'hours', language: 'sw', triggers: ['saa ngapi'], body: 'Tunafungua 8-6.' }),
    );
    const list = await withTenant(db.sql, shop.id, (tx) => listTemplates(tx, shop.id));
    expect(list.map((t) => [t.name, t.language, t.body])).toEqual([
      ['hours', 'en', 'We open 8-6.'],
      ['hours', 'sw', 'Tunafungua 8-6.'],
    ]);
    // isolation: the other tenant sees none, and can have its own "hours"
    expect(await withTenant(db.sql, other.id, (tx) => listTemplates(tx, other.id))).toEqual([]);
    expect(await withTenant(db.sql, other.id, (tx) => listTemplates(tx, shop.id))).toEqual([]);
    await expect(
      withTenant(db.sql, shop.id, (tx) => upsertTemplate(tx, shop.id, { name: 'x', triggers: '', body: 'b' })),
    ).rejects.toThrow(/trigger/);
    expect(await withTenant(db.sql, shop.id, (tx) => deleteTemplate(tx, shop.id, { name: 'hours', language: 'sw' }))).toBe(true);
    expect(await withTenant(db.sql, shop.id, (tx) => deleteTemplate(tx, shop.id, { id: 'not-a-uuid' }))).toBe(false);
  });
});

describe('training data', () => {
  it('adds, updates, deletes', async () => {
    const f = await withTenant(db.sql, shop.id, (tx) => addFaq(tx, shop.id, { question: 'Do you deliver?', answer: 'Yes, in Nairobi.' }));
    const u = await withTenant(db.sql, shop.id, (tx) => updateFaq(tx, shop.id, f.id, { answer: 'Yes, countrywide.' }));
    expect(u.answer).toBe('Yes, countrywide.');
    expect(await withTenant(db.sql, other.id, (tx) => deleteFaq(tx, other.id, f.id))).toBe(false);
    expect(await withTenant(db.sql, shop.id, (tx) => deleteFaq(tx, shop.id, f.id))).toBe(true);
  });

  it('imports in one transaction: upserts by question, rolls back as a whole', async () => {
    const rows = [
      { question: 'Where are you?', answer: 'Moi Avenue, Nairobi.' },
      { question: 'Do you sell guitars?', answer: 'Yes: Yamaha and Fender.' },
      { question: 'Mnafungua saa ngapi?', answer: 'Saa mbili asubuhi.', language: 'sw' },
    ];
    const r1 = await withTenant(db.sql, shop.id, (tx) => importFaqs(tx, shop.id, rows));
    expect(r1).toEqual({ inserted: 3, updated: 0, deleted: 0 });
    const r2 = await withTenant(db.sql, shop.id, (tx) =>
      importFaqs(tx, shop.id, [{ question: 'where are you?', answer: 'Moi Avenue, next to the bank.' }, { question: 'New?', answer: 'Yes' }]),
    );
    expect(r2).toEqual({ inserted: 1, updated: 1, deleted: 0 });
    expect(await withTenant(db.sql, shop.id, (tx) => countFaqs(tx, shop.id))).toBe(4);

    // a bad row anywhere: nothing written
    await expect(
      withTenant(db.sql, shop.id, (tx) =>
        importFaqs(tx, shop.id, [{ question: 'Fine?', answer: 'Yes' }, { question: 'Broken', answer: '' }]),
      ),
    ).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^row 2: answer/) });
    // a failure after the import in the same transaction: the import is rolled back too
    await expect(
      withTenant(db.sql, shop.id, async (tx) => {
        await importFaqs(tx, shop.id, [{ question: 'Rolled back?', answer: 'Yes' }], { replace: true });
        expect(await countFaqs(tx, shop.id)).toBe(1);
        throw new AppError('internal', 'boom');
      }),
    ).rejects.toThrow('boom');
    const all = await withTenant(db.sql, shop.id, (tx) => listFaqs(tx, shop.id));
    expect(all).toHaveLength(4);
    expect(all.find((f) => f.question.toLowerCase() === 'where are you?')?.answer).toBe('Moi Avenue, next to the bank.');
    expect(await withTenant(db.sql, other.id, (tx) => countFaqs(tx, shop.id))).toBe(0);
  });
});

describe('audit', () => {
  it('scrubs secret-looking values and keeps platform events apart', async () => {
    await withTenant(db.sql, shop.id, (tx) =>
      appendAudit(tx, { tenantId: shop.id, actor: 'test', action: 'x', detail: { accessToken: 'EAAG-secret', kinds: ['whatsapp_token'] } }),
    );
    const [entry] = await withTenant(db.sql, shop.id, (tx) => listAudit(tx, shop.id, { action: 'x' }));
    expect(entry?.detail).toEqual({ accessToken: '[redacted]', kinds: ['whatsapp_token'] });
    await withOperator(db.sql, (tx) => appendPlatformAudit(tx, { actor: 'test', action: 'keys.rotated', detail: { n: 1 } }));
    const platform = await withOperator(db.sql, (tx) => listPlatformAudit(tx));
    expect(platform.map((e) => e.action)).toEqual(['keys.rotated']);
    // the app role cannot reach the platform log
    await expect(withTenant(db.sql, shop.id, (tx) => listPlatformAudit(tx))).rejects.toThrow(/permission denied/);
  });
});

describe('dashboard users', () => {
  it('hashes with scrypt and verifies in constant time', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await hashPassword('correct horse battery')).not.toBe(h); // salted
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterz', h)).toBe(false);
    expect(await verifyPassword('x', 'scrypt$99$8$1$abc$def')).toBe(false);
    expect(await verifyPassword('x', 'plain')).toBe(false);
  });

  it('creates owners and operators, resets passwords, locks after failures', async () => {
    const owner = await withOperator(db.sql, (tx) =>
      createUser(tx, { email: 'Gideon@Kassangas.example', role: 'owner', tenantId: shop.id, password: 'first password' }),
    );
    expect(owner).toMatchObject({ email: 'gideon@kassangas.example', role: 'owner', tenantId: shop.id });
    expect(owner).not.toHaveProperty('passwordHash');
    await expect(
      withOperator(db.sql, (tx) => createUser(tx, { email: 'gideon@kassangas.example', role: 'owner', tenantId: shop.id, password: 'another one' })),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(withOperator(db.sql, (tx) => createUser(tx, { email: 'op@x.example', role: 'owner', password: 'long enough' }))).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(withOperator(db.sql, (tx) => createUser(tx, { email: 'op@x.example', role: 'operator', password: 'short' }))).rejects.toThrow();

    expect((await withOperator(db.sql, (tx) => authenticateUser(tx, 'GIDEON@kassangas.example', 'first password')))?.id).toBe(owner.id);
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'wrong'))).toBeNull();
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'nobody@kassangas.example', 'wrong'))).toBeNull();

    await withOperator(db.sql, (tx) => setPassword(tx, 'gideon@kassangas.example', 'second password'));
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'first password'))).toBeNull();
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'second password'))).not.toBeNull();
    await expect(withOperator(db.sql, (tx) => setPassword(tx, 'nobody@x.example', 'whatever long'))).rejects.toMatchObject({ code: 'not_found' });

    for (let i = 0; i < 10; i++) await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'bad'));
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'second password'))).toBeNull();

    // once the lock has run out, one more mistake does not lock again: the count starts afresh
    const expire = () =>
      withOperator(db.sql, (tx) => tx`update alphadome.dashboard_users set locked_until = now() - interval '1 second' where lower(email) = 'gideon@kassangas.example'`);
    await expire();
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'bad'))).toBeNull();
    const [after] = await withOperator(db.sql, (tx) => tx<{ failed_logins: number; locked_until: Date | null }[]>`
      select failed_logins, locked_until from alphadome.dashboard_users where lower(email) = 'gideon@kassangas.example'`);
    expect(after).toEqual({ failed_logins: 1, locked_until: null });
    expect((await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'second password')))?.id).toBe(owner.id);
    // five in a row lock it again
    for (let i = 0; i < 5; i++) await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'bad'));
    expect(await withOperator(db.sql, (tx) => authenticateUser(tx, 'gideon@kassangas.example', 'second password'))).toBeNull();

    // tenant transactions cannot read dashboard accounts
    await expect(withTenant(db.sql, shop.id, (tx) => tx`select 1 from alphadome.dashboard_users`)).rejects.toThrow(/permission denied/);
  });
});
