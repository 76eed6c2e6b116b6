import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AppError } from './errors.ts';
import type { Sql, Tx } from './db.ts';
import { putSecret, type Keyring } from './secrets.ts';

export const migrationsDir = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** Any constant works; this one spells "alphadom" so it is recognisable in pg_locks. */
const MIGRATION_LOCK_KEY = 0x616c7068_61646f6dn;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
  legacySecretsMoved: number;
}

export interface MigrateOptions {
  dir?: string;
  /** needed only when legacy plaintext credentials are found */
  keyring?: Keyring | (() => Keyring);
  log?: (line: string) => void;
}

/**
 * Apply the plain SQL files of migrations/ in name order, each once, each in its own
 * transaction, under a session advisory lock so concurrent starters wait rather than race.
 * A file whose checksum changed after it was applied is an error: migrations are append-only.
 * A small hand-written runner: the lock, the ledger and simple-protocol execution are all
 * it needs, and it runs the same on Postgres, Supabase and PGlite.
 * Everything runs on the one reserved connection that holds the lock, so a pool of one
 * connection (PGlite) does not wait on itself.
 */
export async function migrate(sql: Sql, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const dir = opts.dir ?? migrationsDir;
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const result: MigrationResult = { applied: [], skipped: [], legacySecretsMoved: 0 };
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    try {
      // Legacy plaintext credentials can only be moved with the keyring: without one, stop
      // before changing anything rather than after applying the SQL.
      const plaintextTenants = await countLegacyPlaintext(conn);
      const keyring = plaintextTenants > 0 ? resolveKeyring(opts, plaintextTenants) : undefined;
      await conn.unsafe(`
        create schema if not exists alphadome;
        create table if not exists alphadome.schema_migrations (
          name text primary key,
          checksum text not null,
          applied_at timestamptz not null default now()
        );`).simple();
      const done = new Map(
        (await conn<{ name: string; checksum: string }[]>`select name, checksum from alphadome.schema_migrations`).map((r) => [
          r.name,
          r.checksum,
        ]),
      );
      for (const file of files) {
        const text = await readFile(`${dir}/${file}`, 'utf8');
        const checksum = createHash('sha256').update(text).digest('hex');
        const previous = done.get(file);
        if (previous !== undefined) {
          if (previous !== checksum) {
            throw new AppError('conflict', `migration ${file} was changed after it was applied; add a new migration instead`);
          }
          result.skipped.push(file);
          continue;
        }
        await conn.unsafe('begin').simple();
        try {
          await conn.unsafe(text).simple();
          await conn`insert into alphadome.schema_migrations (name, checksum) values (${file}, ${checksum})`;
          await conn.unsafe('commit').simple();
        } catch (err) {
          await conn.unsafe('rollback').simple();
          throw new AppError('internal', `migration ${file} failed: ${(err as Error).message}`);
        }
        result.applied.push(file);
        opts.log?.(`applied ${file}`);
      }
      if (keyring) result.legacySecretsMoved = await moveLegacyPlaintextSecrets(conn, keyring, opts);
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    }
  } finally {
    conn.release();
  }
  return result;
}

/** How many tenants still hold plaintext credentials (0 when there is no legacy table). */
async function countLegacyPlaintext(conn: Sql): Promise<number> {
  const cols = await conn<{ column_name: string }[]>`
    select column_name from information_schema.columns
     where table_schema = 'alphadome' and table_name = 'bot_tenants'
       and column_name in ('whatsapp_access_token', 'ai_api_key')`;
  if (cols.length === 0) return 0;
  // column names from the fixed list above
  const where = cols.map((c) => `${c.column_name} is not null`).join(' or ');
  const rows = await conn.unsafe<{ n: number }[]>(`select count(*)::int as n from alphadome.bot_tenants where ${where}`);
  return rows[0]?.n ?? 0;
}

function resolveKeyring(opts: MigrateOptions, plaintextTenants: number): Keyring {
  const missing = () =>
    new AppError(
      'config',
      `ENCRYPTION_KEYS: ${plaintextTenants} legacy tenant(s) hold plaintext credentials; set ENCRYPTION_KEYS so migrate can encrypt them`,
    );
  if (!opts.keyring) throw missing();
  if (typeof opts.keyring !== 'function') return opts.keyring;
  try {
    return opts.keyring();
  } catch (err) {
    // a bad ENCRYPTION_KEYS says what is wrong with it; an absent one says why it is needed
    if (err instanceof AppError && err.code === 'config' && !/: is required/.test(err.message)) throw err;
    throw missing();
  }
}

/**
 * The installation this replaces kept WhatsApp tokens and AI keys in plaintext columns of
 * bot_tenants. Seal each into bot_tenant_secrets and clear the column, one tenant per
 * transaction (a crash half-way leaves each tenant either moved or untouched). Runs on the
 * migration's own connection: the clearing as the login role (the owner), the sealing and
 * the audit row as alphadome_app scoped to the tenant, as withTenant would.
 */
async function moveLegacyPlaintextSecrets(conn: Sql, keyring: Keyring, opts: MigrateOptions): Promise<number> {
  const rows = await conn<{ id: string; whatsapp_access_token: string | null; ai_api_key: string | null }[]>`
    select id, whatsapp_access_token, ai_api_key from alphadome.bot_tenants
     where whatsapp_access_token is not null or ai_api_key is not null`;
  const tx = conn as unknown as Tx;
  let moved = 0;
  for (const row of rows) {
    await conn`begin`;
    try {
      await conn`select set_config('role', 'alphadome_app', true), set_config('app.tenant_id', ${row.id}, true)`;
      if (row.whatsapp_access_token) {
        await putSecret(tx, keyring, row.id, 'whatsapp_token', row.whatsapp_access_token);
        moved++;
      }
      if (row.ai_api_key) {
        await putSecret(tx, keyring, row.id, 'openai_key', row.ai_api_key);
        moved++;
      }
      await conn`insert into alphadome.bot_audit_log (tenant_id, actor, action, detail)
                 values (${row.id}, 'migrate', 'secrets.legacy_encrypted',
                         ${conn.json({ whatsapp_token: !!row.whatsapp_access_token, openai_key: !!row.ai_api_key })})`;
      // clearing the plaintext columns is not an app-role privilege: back to the login role
      await conn`select set_config('role', 'none', true)`;
      await conn`update alphadome.bot_tenants
                    set whatsapp_access_token = null, ai_api_key = null,
                        credential_status = case when whatsapp_access_token is not null then 'valid' else credential_status end
                  where id = ${row.id}`;
      await conn`commit`;
    } catch (err) {
      await conn`rollback`;
      throw err;
    }
    opts.log?.(`encrypted legacy credentials of tenant ${row.id}`);
  }
  return moved;
}
