import { createHash, randomBytes } from 'node:crypto';
import { authenticateUser, getUserByEmail, withOperator, type Sql } from '@alphadome/tenant-core';

/**
 * Dashboard sessions and logins (operator role: dashboard_users, dashboard_sessions).
 * The cookie holds a random 32-byte id; the table holds only its SHA-256, so a read of the
 * table does not yield usable sessions.
 */
export interface Session {
  idHash: string;
  userId: string;
  email: string;
  role: 'owner' | 'operator';
  tenantId: string | null;
  csrfToken: string;
  expiresAt: Date;
}

export { LOGIN_LOCK_MINUTES, LOGIN_MAX_FAILURES } from '@alphadome/tenant-core';

export const hashSessionId = (id: string): string => createHash('sha256').update(id).digest('hex');

export async function createSession(sql: Sql, userId: string, ttlMs: number): Promise<{ id: string; session: Session }> {
  const id = randomBytes(32).toString('base64url');
  const idHash = hashSessionId(id);
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMs);
  const session = await withOperator(sql, async (tx) => {
    // opportunistic cleanup of this user's expired sessions
    await tx`delete from alphadome.dashboard_sessions where user_id = ${userId} and expires_at < now()`;
    await tx`insert into alphadome.dashboard_sessions (id_hash, user_id, csrf_token, expires_at)
             values (${idHash}, ${userId}, ${csrfToken}, ${expiresAt})`;
    const [u] = await tx<{ email: string; role: 'owner' | 'operator'; tenant_id: string | null }[]>`
      select email, role, tenant_id from alphadome.dashboard_users where id = ${userId}`;
    return { idHash, userId, email: u!.email, role: u!.role, tenantId: u!.tenant_id, csrfToken, expiresAt };
  });
  return { id, session };
}

/** The live session for a cookie value; null when unknown or expired (an expired row is deleted). */
export async function loadSession(sql: Sql, id: string): Promise<Session | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = hashSessionId(id);
  return withOperator(sql, async (tx) => {
    const rows = await tx<
      { user_id: string; csrf_token: string; expires_at: Date; email: string; role: 'owner' | 'operator'; tenant_id: string | null }[]
    >`select s.user_id, s.csrf_token, s.expires_at, u.email, u.role, u.tenant_id
        from alphadome.dashboard_sessions s join alphadome.dashboard_users u on u.id = s.user_id
       where s.id_hash = ${idHash}`;
    const r = rows[0];
    if (!r) return null;
    if (r.expires_at.getTime() <= Date.now()) {
      await tx`delete from alphadome.dashboard_sessions where id_hash = ${idHash}`;
      return null;
    }
    return { idHash, userId: r.user_id, email: r.email, role: r.role, tenantId: r.tenant_id, csrfToken: r.csrf_token, expiresAt: r.expires_at };
  });
}

export async function deleteSession(sql: Sql, idHash: string): Promise<void> {
  await withOperator(sql, (tx) => tx`delete from alphadome.dashboard_sessions where id_hash = ${idHash}`);
}

export type LoginResult =
  | { ok: true; userId: string; role: 'owner' | 'operator'; tenantId: string | null; email: string }
  | { ok: false; reason: 'invalid' | 'locked' };

/**
 * Check a login with the repository's one rule (authenticateUser: LOGIN_MAX_FAILURES wrong
 * passwords in a row lock the account for LOGIN_LOCK_MINUTES, tracked in dashboard_users so it
 * holds across processes; an unknown email costs one scrypt like a known one). Here only what
 * the login page needs on top: whether a refusal is a lock, and the platform audit row.
 */
export async function checkLogin(sql: Sql, email: string, password: string, ip: string): Promise<LoginResult> {
  return withOperator(sql, async (tx) => {
    const before = await getUserByEmail(tx, email);
    const wasLocked = !!before?.lockedUntil && before.lockedUntil.getTime() > Date.now();
    const u = await authenticateUser(tx, email, password);
    if (u) {
      await audit(tx, u.email, 'login.ok', ip);
      return { ok: true, userId: u.id, role: u.role, tenantId: u.tenantId, email: u.email } as const;
    }
    if (!before) return { ok: false, reason: 'invalid' } as const;
    const after = await getUserByEmail(tx, email);
    const locked = !!after?.lockedUntil && after.lockedUntil.getTime() > Date.now();
    await audit(tx, before.email, wasLocked ? 'login.refused_locked' : locked ? 'login.locked' : 'login.failed', ip);
    return { ok: false, reason: locked ? 'locked' : 'invalid' } as const;
  });
}

/**
 * The account for an email Supabase Auth has confirmed: an existing dashboard user only (no
 * account is created), and a locked account stays locked. Writes the platform audit row.
 */
export async function checkSupabaseLogin(sql: Sql, email: string, ip: string): Promise<LoginResult> {
  return withOperator(sql, async (tx) => {
    const u = await getUserByEmail(tx, email);
    if (!u) return { ok: false, reason: 'invalid' } as const;
    if (u.lockedUntil && u.lockedUntil.getTime() > Date.now()) {
      await audit(tx, u.email, 'login.refused_locked', ip);
      return { ok: false, reason: 'locked' } as const;
    }
    await audit(tx, u.email, 'login.supabase', ip);
    return { ok: true, userId: u.id, role: u.role, tenantId: u.tenantId, email: u.email } as const;
  });
}

async function audit(tx: Parameters<Parameters<typeof withOperator>[1]>[0], actor: string, action: string, ip: string): Promise<void> {
  await tx`insert into alphadome.platform_audit_log (actor, action, detail) values (${actor}, ${action}, ${tx.json({ ip })})`;
}
