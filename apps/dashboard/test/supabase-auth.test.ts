import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, withOperator } from '@alphadome/tenant-core';
import { Client, PASSWORD, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

/**
 * A tiny GoTrue simulator: POST /auth/v1/token?grant_type=password for the known users
 * (email → password), Supabase's invalid_grant refusal for anything else.
 */
interface GoTrue {
  url: string;
  calls: number;
  close(): Promise<void>;
}

async function startGoTrue(users: Record<string, string>): Promise<GoTrue> {
  const state = { calls: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://gotrue');
      if (req.method !== 'POST' || url.pathname !== '/auth/v1/token' || url.searchParams.get('grant_type') !== 'password') {
        return send(404, { error: 'not_found', error_description: 'Not found' });
      }
      state.calls++;
      let body: { email?: unknown; password?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        // an unparsable body is refused like a wrong password
      }
      const email = typeof body.email === 'string' ? body.email : '';
      if (!(email in users) || users[email] !== body.password) {
        return send(400, { error: 'invalid_grant', error_description: 'Invalid login credentials' });
      }
      const now = new Date().toISOString();
      return send(200, {
        access_token: 'sim-access-token',
        token_type: 'bearer',
        expires_in: 3600,
        refresh_token: 'sim-refresh-token',
        user: {
          id: '00000000-0000-4000-8000-000000000001',
          aud: 'authenticated',
          role: 'authenticated',
          email,
          email_confirmed_at: now,
          app_metadata: {},
          user_metadata: {},
          created_at: now,
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return state.calls;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const SB_PASSWORD = 'supabase secret password';

let gotrue: GoTrue;
let h: Harness;
let a: SeededTenant;

/** Fetch the login page for its token, then post the Supabase form. */
async function supabaseLogin(c: Client, email: string, password: string) {
  const form = await c.get('/');
  const token = /action="\/login\/supabase">\s*<input type="hidden" name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
  return c.post('/login/supabase', { _csrf: token, email, password }, { csrf: false });
}

async function sessionCount(): Promise<number> {
  const [r] = await withOperator(h.db.sql, (tx) => tx<{ n: string }[]>`select count(*) as n from alphadome.dashboard_sessions`);
  return Number(r!.n);
}

beforeAll(async () => {
  gotrue = await startGoTrue({
    'Owner@SB-A.test': SB_PASSWORD, // a different case from the dashboard account
    'stranger@nowhere.test': SB_PASSWORD, // a Supabase user with no dashboard account
    'locked@sb-a.test': SB_PASSWORD,
  });
  h = await startHarness({ supabase: { url: gotrue.url, anonKey: 'sim-anon-key' } });
  a = await seedTenant(h.db.sql, 'sb-a', '3000000001');
});
afterAll(async () => {
  await h?.close();
  await gotrue?.close();
});

describe('Supabase sign-in', () => {
  it('offers the Supabase form on the login page, with the login token', async () => {
    const res = await new Client(h.app).get('/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Sign in with your Supabase account');
    expect(res.body).toMatch(/action="\/login\/supabase">\s*<input type="hidden" name="_csrf" value="[A-Za-z0-9_-]{43}"/);
  });

  it('logs a known Supabase user into the matching dashboard account (email case-insensitive)', async () => {
    const c = new Client(h.app);
    const res = await supabaseLogin(c, 'Owner@SB-A.test', SB_PASSWORD);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/home');
    expect(c.cookies.has('ad_session')).toBe(true);
    const home = await c.get('/home');
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('sb-a shop');
    const audit = await withOperator(h.db.sql, (tx) => tx<{ actor: string; detail: unknown }[]>`
      select actor, detail from alphadome.platform_audit_log where action = 'login.supabase'`);
    expect(audit.map((r) => r.actor)).toContain(a.ownerEmail);
    // the Supabase tokens are neither stored nor set as cookies
    expect(JSON.stringify(audit)).not.toContain('sim-');
    expect([...c.cookies.values()].join()).not.toContain('sim-');
    const sessions = await withOperator(h.db.sql, (tx) => tx`select * from alphadome.dashboard_sessions`);
    expect(JSON.stringify(sessions)).not.toContain('sim-');
  });

  it('refuses a Supabase user without a dashboard account with the generic message, and creates nothing', async () => {
    const before = await sessionCount();
    const c = new Client(h.app);
    const res = await supabaseLogin(c, 'stranger@nowhere.test', SB_PASSWORD);
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('Wrong email or password');
    expect(c.cookies.has('ad_session')).toBe(false);
    expect(await sessionCount()).toBe(before);
    const [u] = await withOperator(h.db.sql, (tx) => tx<{ n: string }[]>`
      select count(*) as n from alphadome.dashboard_users where lower(email) = 'stranger@nowhere.test'`);
    expect(Number(u!.n)).toBe(0);
  });

  it('refuses a wrong Supabase password', async () => {
    const c = new Client(h.app);
    const calls = gotrue.calls;
    const res = await supabaseLogin(c, 'Owner@SB-A.test', 'not the supabase password');
    expect(gotrue.calls).toBe(calls + 1);
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('Wrong email or password');
    expect(c.cookies.has('ad_session')).toBe(false);
    // nor does the dashboard password open the Supabase route
    expect((await supabaseLogin(new Client(h.app), a.ownerEmail, PASSWORD)).statusCode).toBe(401);
  });

  it('keeps a locked account locked', async () => {
    await withOperator(h.db.sql, async (tx) => {
      await createUser(tx, { email: 'locked@sb-a.test', role: 'owner', tenantId: a.id, password: 'the right password 1' });
      await tx`update alphadome.dashboard_users set locked_until = now() + interval '10 minutes' where email = 'locked@sb-a.test'`;
    });
    const c = new Client(h.app);
    const res = await supabaseLogin(c, 'locked@sb-a.test', SB_PASSWORD);
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('locked');
    expect(c.cookies.has('ad_session')).toBe(false);
  });

  it('refuses a post without the login token (403) before asking Supabase', async () => {
    const calls = gotrue.calls;
    const c = new Client(h.app);
    await c.get('/');
    const res = await c.post('/login/supabase', { email: 'Owner@SB-A.test', password: SB_PASSWORD }, { csrf: false });
    expect(res.statusCode).toBe(403);
    expect(c.cookies.has('ad_session')).toBe(false);
    expect(gotrue.calls).toBe(calls);
  });
});

describe('without Supabase configured', () => {
  it('has no /login/supabase route and no Supabase form', async () => {
    const h2 = await startHarness();
    try {
      const c = new Client(h2.app);
      const page = await c.get('/');
      expect(page.statusCode).toBe(200);
      expect(page.body).not.toContain('Supabase');
      expect(page.body).not.toContain('/login/supabase');
      const res = await c.post('/login/supabase', { email: 'Owner@SB-A.test', password: SB_PASSWORD }, { csrf: false });
      expect(res.statusCode).toBe(404);
      expect(h2.app.dashboardRoutes.some((r) => r.url === '/login/supabase')).toBe(false);
    } finally {
      await h2.close();
    }
  });
});
