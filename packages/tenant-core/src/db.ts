import postgres from 'postgres';
import { AppError } from './errors.ts';
import { TenantGate } from './tenant-gate.ts';

export type Sql = postgres.Sql<Record<string, never>>;
export type Tx = postgres.TransactionSql<Record<string, never>>;

export interface DbOptions {
  url: string;
  /** false behind Supavisor / PgBouncer transaction pooling */
  prepare?: boolean;
  max?: number;
  /** application_name shown in pg_stat_activity */
  name?: string;
  /** called with every statement sent (postgres.js `debug`): the cost tests count statements */
  debug?: (connection: number, query: string, parameters: unknown[]) => void;
  /**
   * Longest a transaction (withTenant, withTenantPipelined, withOperator) may take before it is
   * given up with an error (0 = no limit). The message path sets it: a query on a connection
   * the server cut can stay unsettled forever in postgres.js, and a job awaiting it would keep
   * its lock and never be retried. Long-running tools (catalog import) leave it unset.
   */
  txDeadlineMs?: number;
  /**
   * Most transactions of one tenant (withTenant, withTenantPipelined) holding or waiting for a
   * connection of this pool at once (tenant-gate.ts); unset = no limit. The worker sets it below
   * `max`, so one tenant's burst cannot take every connection.
   */
  tenantShare?: number;
  /** longest a transaction waits for its tenant's share before it goes ahead anyway (TenantGate; default 5 s) */
  tenantShareMaxWaitMs?: number;
}

/** Transaction deadlines per pool (createSql's txDeadlineMs). */
const txDeadlines = new WeakMap<object, number>();
/** Tenant shares per pool (createSql's tenantShare). */
const gates = new WeakMap<object, TenantGate>();

/** The pool's tenant share (createSql's tenantShare), if it has one. */
export function tenantGateOf(sql: Sql): TenantGate | undefined {
  return gates.get(sql);
}

function gated<T>(sql: Sql, tenantId: string, fn: () => Promise<T>): Promise<T> {
  const gate = gates.get(sql);
  return gate ? gate.run(tenantId, fn) : fn();
}

/** Rejects with a clear error if `p` has not settled within `ms`; `p` itself is left to run. */
export function withinDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new AppError('unavailable', `${what}: no answer from the database within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}

function underDeadline<T>(sql: Sql, p: Promise<T>, what: string): Promise<T> {
  const ms = txDeadlines.get(sql);
  if (!ms) return p;
  p.catch(() => {}); // reported through the deadline's promise; never an unhandled rejection after it fired
  return withinDeadline(p, ms, what);
}

/** A postgres.js pool. Notices are dropped (migrations raise them on idempotent re-runs). */
export function createSql(opts: DbOptions): Sql {
  const sql = postgres(opts.url, {
    prepare: opts.prepare ?? true,
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: opts.name ?? 'alphadome' },
    ...(opts.debug ? { debug: opts.debug } : {}),
  }) as Sql;
  if (opts.txDeadlineMs && opts.txDeadlineMs > 0) txDeadlines.set(sql, opts.txDeadlineMs);
  if (opts.tenantShare !== undefined) gates.set(sql, new TenantGate(opts.tenantShare, opts.tenantShareMaxWaitMs));
  return sql;
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidRe.test(value);
}

/**
 * Run `fn` in a transaction scoped to one tenant. The first statement switches to the
 * application role and sets the tenant, both transaction-local (as PostgREST does), so row
 * level security applies whatever role the connection logged in as, and nothing leaks to the
 * next user of a pooled connection.
 */
export async function withTenant<T>(sql: Sql, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!isUuid(tenantId)) throw new AppError('bad_request', 'tenant id must be a uuid');
  return underDeadline(sql, gated(sql, tenantId, () => sql.begin(async (tx) => {
    // Pipelined: sent now, so it is on the connection before any query of `fn` (postgres.js
    // runs a transaction's queries in order) and travels with the first of them: one round
    // trip fewer per transaction. If it fails, fn's queries fail too and postgres.js rethrows
    // this error, not theirs.
    const scoped = tx`select set_config('role', 'alphadome_app', true), set_config('app.tenant_id', ${tenantId}, true)`.execute();
    scoped.catch(() => {}); // observed below; never an unhandled rejection while fn runs
    const result = await fn(tx);
    await scoped;
    return result;
  }) as Promise<T>), 'a tenant transaction');
}

/** Errors that mean the connection itself is gone (it must not go back to the pool). */
function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  return /^CONNECTION_|^E(CONNRESET|PIPE|TIMEDOUT|CONNREFUSED)$|^57P0[1-3]$|^08/.test(code) || e?.severity === 'FATAL';
}

/** Whether `p` settled within `ms` (a query on a connection that died may never settle: a driver quirk). */
function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    t.unref?.();
    p.then(
      () => (clearTimeout(t), resolve(true)),
      () => (clearTimeout(t), resolve(true)),
    );
  });
}

/**
 * withTenant for the message path: the same isolation (a transaction whose first statement
 * switches to the app role and sets the tenant, both transaction-local), but BEGIN and that
 * statement travel with fn's first statements instead of costing round trips of their own
 * (postgres.js's `begin` waits for BEGIN's answer first), and fn may pipeline COMMIT too:
 * `commit()` queues it behind the statements sent so far, so a transaction whose statements do
 * not depend on each other's results costs one round trip in all.
 *
 * Rules: every statement of fn must be issued before `commit()` (a statement after it throws:
 * it would run outside the transaction, without the tenant); once `commit()` is called, the
 * transaction commits if every statement before it succeeded, even if fn throws later (a
 * failed statement turns COMMIT into ROLLBACK: that is reported as an error). No savepoints
 * (use withTenant). The connection is reserved from the pool for the duration.
 */
export function withTenantPipelined<T>(
  sql: Sql,
  tenantId: string,
  fn: (tx: Tx, commit: () => void) => Promise<T>,
): Promise<T> {
  // checked before the tenant's share of the pool is taken (as withTenant does)
  if (!isUuid(tenantId)) return Promise.reject(new AppError('bad_request', 'tenant id must be a uuid'));
  return underDeadline(sql, gated(sql, tenantId, () => runPipelined(sql, tenantId, fn)), 'a tenant transaction');
}

/**
 * withTenantPipelined when `fn` issues every statement at once (before its first await):
 * BEGIN, the tenant, fn's statements and COMMIT leave in one write, and the transaction is one
 * round trip. A statement fn issues later fails (see withTenantPipelined's rules).
 */
export function withTenantOneTrip<T>(sql: Sql, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withTenantPipelined(sql, tenantId, (tx, commit) => {
    const result = fn(tx);
    commit();
    return result;
  });
}

async function runPipelined<T>(sql: Sql, tenantId: string, fn: (tx: Tx, commit: () => void) => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  /** commit() was called: no new statement may be written */
  let done: Promise<{ command: string }> | null = null;
  /** COMMIT is on the wire: a statement not sent yet would run outside the transaction */
  let sent = false;
  const closed = () => {
    throw new Error('withTenantPipelined: statement issued after commit');
  };
  // fn's handle: the reserved connection, refusing statements once COMMIT is queued
  // postgres.js sends a query when it is first awaited (or .execute()d), not when written: one
  // created before commit() but sent after it must fail, never run outside the transaction
  const guard = <Q>(q: Q): Q => {
    const query = q as unknown as { handle?: () => Promise<void>; executed?: boolean; reject?: (e: Error) => void };
    if (typeof query?.handle === 'function' && typeof query.reject === 'function') {
      const handle = query.handle;
      query.handle = function (this: typeof query) {
        if (sent && !this.executed) {
          this.executed = true;
          this.reject!(new Error('withTenantPipelined: statement sent after commit'));
          return Promise.resolve();
        }
        return handle.call(this);
      };
    }
    return q;
  };
  const tx = new Proxy(conn, {
    apply(target, thisArg, args) {
      if (done) closed();
      return guard(Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args));
    },
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'unsafe' && typeof v === 'function') {
        return (...args: unknown[]) => {
          if (done) closed();
          return guard((v as (...a: unknown[]) => unknown).apply(target, args));
        };
      }
      return v;
    },
  }) as unknown as Tx;
  // COMMIT goes out on the next turn of the event loop: `await query` in fn's helpers sends the
  // query a few microtasks after it is written, and every statement written before commit()
  // must be on the wire before COMMIT. (postgres.js flushes its writes on setImmediate too, so
  // COMMIT still travels in the same write.)
  const commit = () => {
    if (done) return;
    done = new Promise<{ command: string }>((resolve, reject) => {
      setImmediate(() => {
        sent = true;
        (conn`commit`.execute() as unknown as Promise<{ command: string }>).then(resolve, reject);
      });
    });
    done.catch(() => {}); // awaited below
  };
  let lost = false;
  try {
    const begun = Promise.all([
      conn`begin`.execute(),
      conn`select set_config('role', 'alphadome_app', true), set_config('app.tenant_id', ${tenantId}, true)`.execute(),
    ]);
    begun.catch(() => {}); // observed below; fn's statements fail too if these did
    let result: T;
    try {
      result = await fn(tx, commit);
      await begun;
    } catch (err) {
      lost = connectionLost(err);
      // a transaction not known to be over must not go back to the pool: then it is treated as lost
      if (done) lost = !(await settleWithin(done, 5000)) || lost;
      else if (!lost) lost = !(await settleWithin(conn`rollback`.execute() as unknown as Promise<unknown>, 5000));
      // BEGIN's or the tenant setting's error explains fn's failure better than 25P02
      const first = await begun.then(() => null, (e: unknown) => e);
      throw first ?? err;
    }
    commit();
    const res = await (done as unknown as Promise<{ command: string }>);
    if (res.command !== 'COMMIT') throw new Error(`withTenantPipelined: transaction ended with ${res.command}: a statement in it failed`);
    return result;
  } catch (err) {
    lost ||= connectionLost(err);
    throw err;
  } finally {
    // a connection that died is left to the pool's own reconnect (releasing it would hand it out again)
    if (!lost) conn.release();
  }
}

/**
 * Run `fn` as the operator role: the platform-level tables (dashboard accounts, platform audit)
 * and the admin functions, never tenant rows directly.
 */
export async function withOperator<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return underDeadline(
    sql,
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'alphadome_operator', true), set_config('app.tenant_id', '', true)`;
      return fn(tx);
    }) as Promise<T>,
    'an operator transaction',
  );
}

/** Route a phone number id to its tenant (SECURITY DEFINER: id and status only). */
export async function routePhoneNumber(
  sql: Sql | Tx,
  phoneNumberId: string,
): Promise<{ tenantId: string; status: 'active' | 'disabled' } | null> {
  const rows = await sql<{ tenant_id: string; status: 'active' | 'disabled' }[]>`
    select tenant_id, status from alphadome.route_phone_number(${phoneNumberId})`;
  const row = rows[0];
  return row ? { tenantId: row.tenant_id, status: row.status } : null;
}

/** Route a slug to its tenant, for `POST /webhooks/whatsapp/:tenantSlug`. */
export async function routeTenantSlug(
  sql: Sql | Tx,
  slug: string,
): Promise<{ tenantId: string; status: 'active' | 'disabled'; ownMetaApp: boolean } | null> {
  const rows = await sql<{ tenant_id: string; status: 'active' | 'disabled'; own_meta_app: boolean }[]>`
    select tenant_id, status, own_meta_app from alphadome.route_tenant_slug(${slug})`;
  const row = rows[0];
  return row ? { tenantId: row.tenant_id, status: row.status, ownMetaApp: row.own_meta_app } : null;
}
