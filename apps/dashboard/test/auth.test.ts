import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOperator } from '@alphadome/tenant-core';
import { Client, seedOperator, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

let h: Harness;
let a: SeededTenant;
let opsEmail: string;

beforeAll(async () => {
  h = await startHarness({ sessionTtlMs: 60 * 60_000 });
  a = await seedTenant(h.db.sql, 'auth-a', '1000000001');
  opsEmail = await seedOperator(h.db.sql);
});
afterAll(async () => h?.close());

describe('login', () => {
  it('shows the login form at / with a CSRF field', async () => {
    const c = new Client(h.app);
    const res = await c.get('/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/name="_csrf" value="[A-Za-z0-9_-]{43}"/);
    expect(res.body).toContain('type="password"');
  });

  it('logs an owner in with a hashed, HttpOnly, SameSite=Lax session cookie and lands on the home page', async () => {
    const c = new Client(h.app);
    const res = await c.login(a.ownerEmail);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/home');
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] as string | string[]).find((s) => s.startsWith('ad_session='))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const id = c.cookies.get('ad_session')!;
    // the table holds the SHA-256 of the id, never the id
    const rows = await withOperator(h.db.sql, (tx) => tx<{ id_hash: string }[]>`select id_hash from alphadome.dashboard_sessions`);
    expect(rows.some((r) => r.id_hash === id)).toBe(false);
    const { hashSessionId } = await import('../src/data/sessions.ts');
    expect(rows.some((r) => r.id_hash === hashSessionId(id))).toBe(true);
    const home = await c.get('/home');
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('auth-a shop');
  });

  it('marks the cookie Secure except for plain http on localhost', async () => {
    const c = new Client(h.app);
    const form = await h.app.inject({ method: 'GET', url: '/', headers: { host: 'dash.example.com', 'x-forwarded-proto': 'https' } });
    expect(String(form.headers['set-cookie'])).toMatch(/Secure/);
    const local = await c.get('/');
    expect(String(local.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  it('refuses a wrong password with the same message as an unknown email', async () => {
    const c = new Client(h.app);
    const wrong = await c.login(a.ownerEmail, 'not the password at all');
    const unknown = await c.login('nobody@nowhere.test', 'not the password at all');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toContain('Wrong email or password');
    expect(unknown.body).toContain('Wrong email or password');
    expect(c.cookies.has('ad_session')).toBe(false);
    // a good login clears the counter
    expect((await c.login(a.ownerEmail)).statusCode).toBe(303);
  });

  it('refuses a login post without the form token (403)', async () => {
    const c = new Client(h.app);
    const res = await c.post('/login', { email: a.ownerEmail, password: 'x' }, { csrf: false });
    expect(res.statusCode).toBe(403);
  });

  it('locks the account for 15 minutes after 5 wrong passwords, even with the right one', async () => {
    const email = 'lockme@auth-a.test';
    const { createUser } = await import('@alphadome/tenant-core');
    await withOperator(h.db.sql, (tx) => createUser(tx, { email, role: 'owner', tenantId: a.id, password: 'the right password 1' }));
    // different clients / IPs do not matter: the lock is on the account
    for (let i = 0; i < 4; i++) expect((await new Client(h.app).login(email, `wrong-${i}-password`)).statusCode).toBe(401);
    const fifth = await new Client(h.app).login(email, 'wrong-5-password');
    expect(fifth.statusCode).toBe(401);
    expect(fifth.body).toContain('locked');
    const right = await new Client(h.app).login(email, 'the right password 1');
    expect(right.statusCode).toBe(401);
    expect(right.body).toContain('locked');
    const [row] = await withOperator(h.db.sql, (tx) => tx<{ failed_logins: number; locked_until: Date }[]>`
      select failed_logins, locked_until from alphadome.dashboard_users where email = ${email}`);
    expect(row!.failed_logins).toBe(5);
    const minutes = (row!.locked_until.getTime() - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(14);
    expect(minutes).toBeLessThanOrEqual(15.1);
    // after the lock expires, the right password works again
    await withOperator(h.db.sql, (tx) => tx`update alphadome.dashboard_users set locked_until = now() - interval '1 second' where email = ${email}`);
    expect((await new Client(h.app).login(email, 'the right password 1')).statusCode).toBe(303);
  });

  it('logs out: the session row goes and the cookie no longer works', async () => {
    const c = new Client(h.app);
    await c.login(a.ownerEmail);
    const cookie = c.cookieHeader;
    const out = await c.post('/logout');
    expect(out.statusCode).toBe(303);
    const again = await h.app.inject({ method: 'GET', url: '/home', headers: { cookie } });
    expect(again.statusCode).toBe(302);
    expect(again.headers.location).toBe('/');
  });

  it('logout without the CSRF token is refused', async () => {
    const c = new Client(h.app);
    await c.login(a.ownerEmail);
    expect((await c.post('/logout', {}, { csrf: false })).statusCode).toBe(403);
    expect((await c.get('/home')).statusCode).toBe(200);
  });

  it('sends operators to the tenant list', async () => {
    const c = new Client(h.app);
    const res = await c.login(opsEmail);
    expect(res.headers.location).toBe('/admin/tenants');
  });
});

describe('sessions', () => {
  it('an expired session is refused and deleted', async () => {
    const c = new Client(h.app);
    await c.login(a.ownerEmail);
    await withOperator(h.db.sql, (tx) => tx`update alphadome.dashboard_sessions set expires_at = now() - interval '1 second'`);
    const res = await c.get('/faq');
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/');
    const [n] = await withOperator(h.db.sql, (tx) => tx<{ n: string }[]>`select count(*) as n from alphadome.dashboard_sessions where expires_at < now()`);
    expect(Number(n!.n)).toBeLessThan(10);
  });

  it('a forged or unknown cookie is no session', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/home', headers: { cookie: 'ad_session=' + 'A'.repeat(43) } });
    expect(res.statusCode).toBe(302);
  });

  it('the per-IP limiter answers 429 after too many failures from one address', async () => {
    const h2 = await startHarness({ loginRateLimit: { max: 3, windowMs: 60_000 } });
    try {
      await seedTenant(h2.db.sql, 'rate-a', '1000000009');
      const c = new Client(h2.app);
      for (let i = 0; i < 3; i++) await c.login(`nobody${i}@x.test`, 'wrong password here');
      const res = await c.login('owner@rate-a.test');
      expect(res.statusCode).toBe(429);
    } finally {
      await h2.close();
    }
  });
});

describe('CSRF', () => {
  it('a state-changing form with a wrong token is refused and changes nothing', async () => {
    const c = new Client(h.app);
    await c.login(a.ownerEmail);
    const res = await c.post('/bot', { enabled: '0', _csrf: 'x'.repeat(43) }, { csrf: false });
    expect(res.statusCode).toBe(403);
    const home = await c.get('/home');
    expect(home.body).toContain('ON');
  });

  it("another session's token does not work", async () => {
    const c1 = new Client(h.app);
    const c2 = new Client(h.app);
    await c1.login(a.ownerEmail);
    await c2.login(a.ownerEmail);
    expect(c1.csrf).not.toBe(c2.csrf);
    const res = await c1.post('/bot', { enabled: '0', _csrf: c2.csrf }, { csrf: false });
    expect(res.statusCode).toBe(403);
  });
});
