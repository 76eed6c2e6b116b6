import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { emailSchema, passwordSchema, userRoleSchema, type UserRole } from '../schemas.ts';
import { isUniqueViolation } from './pg-errors.ts';

/**
 * Dashboard accounts (alphadome.dashboard_users), reachable only by the operator role:
 * every function here takes a withOperator transaction. An owner belongs to one tenant,
 * an operator to none. Passwords are hashed with scrypt (node:crypto), stored as
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url), and compared in constant time.
 */
export interface DashboardUser {
  id: string;
  email: string;
  role: UserRole;
  tenantId: string | null;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = SCRYPT;
  const hash = await scryptAsync(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Constant-time check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  // bounds keep a corrupted row from asking for gigabytes of memory
  if (!Number.isInteger(N) || N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0) return false;
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 8 || expected.length < 16) return false;
  const actual = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(actual, expected);
}

// a real hash of a random password: verifying against it costs what a real check costs, so
// "no such user" and "wrong password" take the same time
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= hashPassword(randomBytes(16).toString('hex')));

interface Row {
  id: string;
  email: string;
  role: UserRole;
  tenant_id: string | null;
  failed_logins: number;
  locked_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toUser = (r: Row): DashboardUser => ({
  id: r.id,
  email: r.email,
  role: r.role,
  tenantId: r.tenant_id,
  failedLogins: r.failed_logins,
  lockedUntil: r.locked_until,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const selectList = (tx: Tx) => tx`id, email, role, tenant_id, failed_logins, locked_until, created_at, updated_at`;

export interface CreateUserInput {
  email: string;
  role: UserRole;
  /** required for owners, absent for operators */
  tenantId?: string | null;
  password: string;
}

export async function createUser(tx: Tx, input: CreateUserInput): Promise<DashboardUser> {
  const email = emailSchema.parse(input.email);
  const role = userRoleSchema.parse(input.role);
  passwordSchema.parse(input.password);
  const tenantId = input.tenantId ?? null;
  if (role === 'owner' && !tenantId) throw new AppError('bad_request', 'an owner belongs to a tenant; give the tenant');
  if (role === 'operator' && tenantId) throw new AppError('bad_request', 'an operator belongs to no tenant; leave the tenant out');
  const hash = await hashPassword(input.password);
  try {
    const rows = await tx<Row[]>`
      insert into alphadome.dashboard_users (email, password_hash, role, tenant_id)
      values (${email}, ${hash}, ${role}, ${tenantId}) returning ${selectList(tx)}`;
    return toUser(rows[0]!);
  } catch (err) {
    if (isUniqueViolation(err, 'dashboard_users_email_key')) {
      throw new AppError('conflict', `user "${email}" already exists`, { field: 'email' });
    }
    throw err;
  }
}

export async function getUserByEmail(tx: Tx, email: string): Promise<DashboardUser | null> {
  const rows = await tx<Row[]>`select ${selectList(tx)} from alphadome.dashboard_users where lower(email) = lower(${email.trim()})`;
  return rows[0] ? toUser(rows[0]) : null;
}

export async function getUserById(tx: Tx, id: string): Promise<DashboardUser | null> {
  const rows = await tx<Row[]>`select ${selectList(tx)} from alphadome.dashboard_users where id = ${id}`;
  return rows[0] ? toUser(rows[0]) : null;
}

export async function listUsers(tx: Tx, opts: { tenantId?: string } = {}): Promise<DashboardUser[]> {
  const rows = await tx<Row[]>`
    select ${selectList(tx)} from alphadome.dashboard_users
     ${opts.tenantId ? tx`where tenant_id = ${opts.tenantId}` : tx``}
     order by email`;
  return rows.map(toUser);
}

/**
 * Set a new password (operator-driven reset): clears the lockout and ends the user's
 * sessions. AppError not_found when no user has that email.
 */
export async function setPassword(tx: Tx, email: string, password: string): Promise<DashboardUser> {
  passwordSchema.parse(password);
  const hash = await hashPassword(password);
  const rows = await tx<Row[]>`
    update alphadome.dashboard_users
       set password_hash = ${hash}, failed_logins = 0, locked_until = null, updated_at = now()
     where lower(email) = lower(${email.trim()})
     returning ${selectList(tx)}`;
  const row = rows[0];
  if (!row) throw new AppError('not_found', `user "${email.trim()}" not found`);
  await tx`delete from alphadome.dashboard_sessions where user_id = ${row.id}`;
  return toUser(row);
}

export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_LOCK_MINUTES = 15;

/**
 * Check an email and password for a login. Returns the user, or null for an unknown email,
 * a wrong password or a locked account (the caller says the same thing for all three). After
 * LOGIN_MAX_FAILURES wrong passwords in a row the account is locked for LOGIN_LOCK_MINUTES.
 */
export async function authenticateUser(tx: Tx, email: string, password: string): Promise<DashboardUser | null> {
  const rows = await tx<(Row & { password_hash: string })[]>`
    select ${selectList(tx)}, password_hash from alphadome.dashboard_users
     where lower(email) = lower(${email.trim()}) for update`;
  const row = rows[0];
  if (!row) {
    await verifyPassword(password, await getDummyHash());
    return null;
  }
  const ok = await verifyPassword(password, row.password_hash);
  if (row.locked_until && row.locked_until > new Date()) return null;
  if (!ok) {
    // a lock that has run out starts a fresh count: one more mistake must not re-lock at once
    const lockExpired = row.locked_until !== null && row.locked_until <= new Date();
    const failures = (lockExpired ? 0 : row.failed_logins) + 1;
    await tx`
      update alphadome.dashboard_users
         set failed_logins = ${failures},
             locked_until = case when ${failures} >= ${LOGIN_MAX_FAILURES}
                                 then now() + make_interval(mins => ${LOGIN_LOCK_MINUTES})
                                 when ${lockExpired} then null else locked_until end
       where id = ${row.id}`;
    return null;
  }
  if (row.failed_logins !== 0 || row.locked_until) {
    await tx`update alphadome.dashboard_users set failed_logins = 0, locked_until = null where id = ${row.id}`;
  }
  return toUser({ ...row, failed_logins: 0, locked_until: null });
}
