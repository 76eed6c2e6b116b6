import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { ConfigError, loadConfig, parseKeyringSpec } from '../src/config.ts';
import { withTenant, type Sql } from '../src/db.ts';
import { AppError } from '../src/errors.ts';
import { getSecret, Keyring, listSecretKinds, putSecret, resealTenantSecrets, type SecretKind } from '../src/secrets.ts';

/**
 * Tenant secrets: AES-256-GCM, key id beside the ciphertext, tenant id + kind as additional
 * authenticated data. A ciphertext that moves (to another tenant, another kind) or changes
 * does not open, and the error says so without carrying any secret material.
 */

const b64 = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const k0 = { id: 'k0', key: Buffer.alloc(32, 0x10) };
const k1 = { id: 'k1', key: Buffer.alloc(32, 0x21) };

let db: TestDatabase;
let sql: Sql;

async function createTenant(tag: string): Promise<string> {
  const id = randomUUID();
  await withTenant(sql, id, (tx) => tx`
    insert into alphadome.bot_tenants (id, slug, client_name, whatsapp_phone_number_id)
    values (${id}, ${`sec-${tag}-${id.slice(0, 8)}`}, ${`Secrets ${tag}`}, ${`2000${randomBytes(4).readUInt32BE()}`})`);
  return id;
}

/** Open as the tenant, returning the error instead of throwing. */
async function tryGet(keyring: Keyring, tenantId: string, kind: SecretKind): Promise<string | null | AppError> {
  return withTenant(sql, tenantId, (tx) => getSecret(tx, keyring, tenantId, kind)).catch((err: unknown) => {
    if (err instanceof AppError) return err;
    throw err;
  });
}

function expectNoSecretMaterial(err: AppError, ...secrets: (string | Buffer)[]): void {
  const text = `${err.message} ${String(err)} ${JSON.stringify(err.details ?? {})} ${err.stack ?? ''}`;
  for (const s of secrets) {
    const forms = typeof s === 'string' ? [s] : [s.toString('hex'), s.toString('base64'), s.toString('latin1')];
    for (const f of forms) expect(text.includes(f), 'error text carries secret material').toBe(false);
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  sql = db.sql;
});

afterAll(async () => {
  await db?.drop();
});

describe('Keyring', () => {
  it('seals with a fresh 96-bit nonce and the active key id, and opens what it sealed', () => {
    const keyring = new Keyring([k1, k0]);
    const tenant = randomUUID();
    const a = keyring.seal('EAA-some-token', tenant, 'whatsapp_token');
    const b = keyring.seal('EAA-some-token', tenant, 'whatsapp_token');
    expect(a.keyId).toBe('k1');
    expect(a.nonce).toHaveLength(12);
    expect(a.authTag).toHaveLength(16);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.toString('latin1')).not.toContain('EAA-some-token');
    expect(keyring.open(a, tenant, 'whatsapp_token')).toBe('EAA-some-token');
    // non-ASCII and empty values survive
    expect(keyring.open(keyring.seal('ñ·🔑', tenant, 'openai_key'), tenant, 'openai_key')).toBe('ñ·🔑');
    expect(keyring.open(keyring.seal('', tenant, 'openai_key'), tenant, 'openai_key')).toBe('');
  });
});

describe('secrets in the database', () => {
  const keyring = new Keyring([k1, k0]);
  let A: string;
  let B: string;
  const tokenA = `EAA-A-${randomBytes(16).toString('hex')}`;
  const tokenB = `EAA-B-${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    A = await createTenant('a');
    B = await createTenant('b');
    await withTenant(sql, A, (tx) => putSecret(tx, keyring, A, 'whatsapp_token', tokenA));
    await withTenant(sql, B, (tx) => putSecret(tx, keyring, B, 'whatsapp_token', tokenB));
  });

  it('round-trips through putSecret/getSecret; the row holds no plaintext', async () => {
    expect(await tryGet(keyring, A, 'whatsapp_token')).toBe(tokenA);
    expect(await tryGet(keyring, A, 'openai_key')).toBeNull();
    const [row] = await sql<{ ciphertext: Buffer; key_id: string }[]>`
      select ciphertext, key_id from alphadome.bot_tenant_secrets where tenant_id = ${A} and kind = 'whatsapp_token'`;
    expect(row!.key_id).toBe('k1');
    expect(row!.ciphertext.toString('latin1')).not.toContain(tokenA);
    // replacing keeps one row per kind
    await withTenant(sql, A, (tx) => putSecret(tx, keyring, A, 'openai_key', 'sk-first'));
    await withTenant(sql, A, (tx) => putSecret(tx, keyring, A, 'openai_key', 'sk-second'));
    expect(await tryGet(keyring, A, 'openai_key')).toBe('sk-second');
    const kinds = await withTenant(sql, A, (tx) => listSecretKinds(tx, A));
    expect(kinds.map((k) => k.kind)).toEqual(['openai_key', 'whatsapp_token']);
  });

  it("a ciphertext copied onto another tenant's row does not open there, and the error carries no secret", async () => {
    await sql`
      update alphadome.bot_tenant_secrets b
         set key_id = a.key_id, nonce = a.nonce, ciphertext = a.ciphertext, auth_tag = a.auth_tag
        from alphadome.bot_tenant_secrets a
       where a.tenant_id = ${A} and a.kind = 'whatsapp_token' and b.tenant_id = ${B} and b.kind = 'whatsapp_token'`;
    const err = await tryGet(keyring, B, 'whatsapp_token');
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('secret');
    expect((err as AppError).message).toMatch(/does not decrypt/);
    const [row] = await sql<{ nonce: Buffer; ciphertext: Buffer; auth_tag: Buffer }[]>`
      select nonce, ciphertext, auth_tag from alphadome.bot_tenant_secrets where tenant_id = ${B} and kind = 'whatsapp_token'`;
    expectNoSecretMaterial(err as AppError, tokenA, tokenB, row!.nonce, row!.ciphertext, row!.auth_tag, k0.key, k1.key);
    // A's own secret is untouched by the copy
    expect(await tryGet(keyring, A, 'whatsapp_token')).toBe(tokenA);
    await withTenant(sql, B, (tx) => putSecret(tx, keyring, B, 'whatsapp_token', tokenB));
  });

  it('a ciphertext moved to another kind does not open', async () => {
    const tenant = await createTenant('kind');
    await withTenant(sql, tenant, (tx) => putSecret(tx, keyring, tenant, 'meta_app_secret', 'app-secret-value'));
    await sql`update alphadome.bot_tenant_secrets set kind = 'openai_key' where tenant_id = ${tenant} and kind = 'meta_app_secret'`;
    const err = await tryGet(keyring, tenant, 'openai_key');
    expect(err).toMatchObject({ code: 'secret' });
    expectNoSecretMaterial(err as AppError, 'app-secret-value');
  });

  it('a tampered byte (ciphertext, nonce or tag) does not open', async () => {
    const tenant = await createTenant('tamper');
    for (const column of ['ciphertext', 'nonce', 'auth_tag'] as const) {
      await withTenant(sql, tenant, (tx) => putSecret(tx, keyring, tenant, 'whatsapp_token', 'EAA-tamper-me'));
      expect(await tryGet(keyring, tenant, 'whatsapp_token')).toBe('EAA-tamper-me');
      await sql.unsafe(
        `update alphadome.bot_tenant_secrets set ${column} = set_byte(${column}, 0, get_byte(${column}, 0) # 1)
          where tenant_id = $1 and kind = 'whatsapp_token'`,
        [tenant],
      );
      const err = await tryGet(keyring, tenant, 'whatsapp_token');
      expect(err, column).toMatchObject({ code: 'secret' });
      expectNoSecretMaterial(err as AppError, 'EAA-tamper-me');
    }
  });

  it('a key id not in the keyring gives an error naming that key id', async () => {
    const tenant = await createTenant('gone');
    await withTenant(sql, tenant, (tx) => putSecret(tx, keyring, tenant, 'whatsapp_token', 'EAA-old-key'));
    await sql`update alphadome.bot_tenant_secrets set key_id = 'retired-2024' where tenant_id = ${tenant}`;
    const err = await tryGet(keyring, tenant, 'whatsapp_token');
    expect(err).toMatchObject({ code: 'secret' });
    expect((err as AppError).message).toContain('"retired-2024"');
    expect((err as AppError).message).toContain('ENCRYPTION_KEYS');
    expectNoSecretMaterial(err as AppError, 'EAA-old-key');
  });
});

describe('key rotation', () => {
  it('re-seals every secret under the new active key; afterwards the new key alone reads them all', async () => {
    const old = new Keyring([k0]);
    const plain = new Map<string, string>();
    const tenants = [await createTenant('rot1'), await createTenant('rot2'), await createTenant('rot3')];
    for (const t of tenants) {
      await withTenant(sql, t, async (tx) => {
        for (const kind of ['whatsapp_token', 'openai_key'] as const) {
          const value = `${kind}-${t}-${randomBytes(8).toString('hex')}`;
          plain.set(`${t}/${kind}`, value);
          await putSecret(tx, old, t, kind, value);
        }
      });
    }
    const rotating = new Keyring([k1, k0]);
    // before re-sealing, the two-key ring already reads the old ciphertexts
    expect(await tryGet(rotating, tenants[0]!, 'openai_key')).toBe(plain.get(`${tenants[0]}/openai_key`));
    for (const t of tenants) {
      expect(await withTenant(sql, t, (tx) => resealTenantSecrets(tx, rotating, t))).toBe(2);
      expect(await withTenant(sql, t, (tx) => resealTenantSecrets(tx, rotating, t))).toBe(0);
    }
    const keyIds = await sql<{ key_id: string }[]>`
      select distinct key_id from alphadome.bot_tenant_secrets where tenant_id = any(${tenants})`;
    expect(keyIds.map((r) => r.key_id)).toEqual(['k1']);
    const onlyNew = new Keyring([k1]);
    for (const [ref, value] of plain) {
      const [t, kind] = ref.split('/') as [string, SecretKind];
      expect(await tryGet(onlyNew, t, kind)).toBe(value);
    }
    // and the retired key alone no longer does, naming the key it lacks
    const err = await tryGet(old, tenants[0]!, 'whatsapp_token');
    expect(err).toMatchObject({ code: 'secret', message: expect.stringContaining('"k1"') });
  });
});

describe('ENCRYPTION_KEYS and the environment', () => {
  /** A ConfigError of one line naming the variable, carrying none of the given key material. */
  function expectConfigError(fn: () => unknown, variable: string, ...secrets: string[]): string {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain(variable);
    expect(message).not.toMatch(/\n/);
    for (const s of secrets) expect(message).not.toContain(s);
    return message;
  }

  it('parses id:base64 pairs, first one active', () => {
    const keys = parseKeyringSpec(` a:${b64(1)} , b:${b64(2)} `);
    expect(keys.map((k) => k.id)).toEqual(['a', 'b']);
    expect(keys[0]!.key.equals(Buffer.alloc(32, 1))).toBe(true);
    expect(Keyring.fromSpec(`a:${b64(1)},b:${b64(2)}`).activeKeyId).toBe('a');
  });

  it('refuses bad base64, a 16-byte key, a duplicate id, a missing id', () => {
    expect(() => parseKeyringSpec('k1:not*base64!')).toThrow(/not base64/);
    expect(() => parseKeyringSpec(`k1:${Buffer.alloc(16, 1).toString('base64')}`)).toThrow(/32 bytes, got 16/);
    expect(() => parseKeyringSpec(`k1:${b64(1)},k1:${b64(2)}`)).toThrow(/"k1" appears twice/);
    expect(() => parseKeyringSpec(b64(1))).toThrow(/id:base64key/);
    expect(() => parseKeyringSpec(' , ')).toThrow(/no keys/);
  });

  it('loadConfig stops on a bad ENCRYPTION_KEYS with one line naming it, never echoing the key', () => {
    const short = Buffer.alloc(16, 9).toString('base64');
    expect(expectConfigError(() => loadConfig({ ENCRYPTION_KEYS: `k1:${short}` }), 'ENCRYPTION_KEYS', short)).toMatch(/32 bytes/);
    expectConfigError(() => loadConfig({ ENCRYPTION_KEYS: 'k1:@@@@' }), 'ENCRYPTION_KEYS', '@@@@');
    const dup = b64(5);
    expectConfigError(() => loadConfig({ ENCRYPTION_KEYS: `k1:${dup},k1:${dup}` }), 'ENCRYPTION_KEYS', dup);
    expect(() => Keyring.fromSpec(`k1:${short}`)).toThrow(expect.objectContaining({ code: 'config', message: expect.stringMatching(/^ENCRYPTION_KEYS: /) }));
    expect(() => Keyring.fromSpec(undefined)).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('ENCRYPTION_KEYS') }));
  });

  it('loadConfig names a missing required DATABASE_URL, and a malformed one', () => {
    expect(expectConfigError(() => loadConfig({}, ['DATABASE_URL']), 'DATABASE_URL')).toMatch(/required/);
    expectConfigError(() => loadConfig({ DATABASE_URL: '' }, ['DATABASE_URL']), 'DATABASE_URL');
    expectConfigError(() => loadConfig({ DATABASE_URL: 'mysql://x@y/z' }), 'DATABASE_URL');
    const ok = loadConfig({ DATABASE_URL: 'postgres://u@h:5432/d', ENCRYPTION_KEYS: `k1:${b64(1)}` }, ['DATABASE_URL', 'ENCRYPTION_KEYS']);
    expect(ok.DATABASE_URL).toBe('postgres://u@h:5432/d');
  });
});
