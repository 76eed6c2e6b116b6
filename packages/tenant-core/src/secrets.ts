import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { parseKeyringSpec, type KeySpec } from './config.ts';
import { AppError } from './errors.ts';
import type { Tx } from './db.ts';

/**
 * Tenant secrets: AES-256-GCM with a random 96-bit nonce per value, the key id stored beside
 * the ciphertext, and tenant id + kind as additional authenticated data, so a ciphertext
 * copied to another tenant's row (or another kind) fails to open.
 */
export const secretKinds = ['whatsapp_token', 'meta_app_secret', 'openai_key'] as const;
export type SecretKind = (typeof secretKinds)[number];

export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export class Keyring {
  readonly keys: readonly KeySpec[];

  constructor(keys: KeySpec[]) {
    if (keys.length === 0) throw new AppError('config', 'ENCRYPTION_KEYS: no keys given');
    this.keys = keys;
  }

  static fromSpec(spec: string | undefined): Keyring {
    if (!spec) throw new AppError('config', 'ENCRYPTION_KEYS: is required to read or write tenant secrets');
    try {
      return new Keyring(parseKeyringSpec(spec));
    } catch (err) {
      throw new AppError('config', `ENCRYPTION_KEYS: ${(err as Error).message}`);
    }
  }

  get activeKeyId(): string {
    return this.keys[0]!.id;
  }

  private key(id: string): Buffer {
    const found = this.keys.find((k) => k.id === id);
    if (!found) {
      throw new AppError('secret', `secret was sealed with key id "${id}", which is not in ENCRYPTION_KEYS`, { keyId: id });
    }
    return found.key;
  }

  seal(plaintext: string, tenantId: string, kind: SecretKind): SealedSecret {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(this.activeKeyId), nonce);
    cipher.setAAD(aad(tenantId, kind));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: this.activeKeyId, nonce, ciphertext, authTag: cipher.getAuthTag() };
  }

  open(sealed: SealedSecret, tenantId: string, kind: SecretKind): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key(sealed.keyId), sealed.nonce);
    decipher.setAAD(aad(tenantId, kind));
    decipher.setAuthTag(sealed.authTag);
    try {
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // never include the ciphertext or key material
      throw new AppError('secret', `the ${kind} secret does not decrypt for this tenant (tampered, moved from another row, or wrong key)`, {
        kind,
        keyId: sealed.keyId,
      });
    }
  }
}

function aad(tenantId: string, kind: SecretKind): Buffer {
  return Buffer.from(`alphadome:v1:${tenantId}:${kind}`, 'utf8');
}

interface SecretRow {
  tenant_id: string;
  kind: SecretKind;
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
}

const fromRow = (r: SecretRow): SealedSecret => ({ keyId: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext, authTag: r.auth_tag });

/** Store (or replace) a secret for the transaction's tenant. */
export async function putSecret(tx: Tx, keyring: Keyring, tenantId: string, kind: SecretKind, plaintext: string): Promise<void> {
  const s = keyring.seal(plaintext, tenantId, kind);
  await tx`
    insert into alphadome.bot_tenant_secrets (tenant_id, kind, key_id, nonce, ciphertext, auth_tag)
    values (${tenantId}, ${kind}, ${s.keyId}, ${s.nonce}, ${s.ciphertext}, ${s.authTag})
    on conflict (tenant_id, kind) do update
      set key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
          auth_tag = excluded.auth_tag, rotated_at = now()`;
}

/** Read and decrypt a secret of the transaction's tenant; null when none is stored. */
export async function getSecret(tx: Tx, keyring: Keyring, tenantId: string, kind: SecretKind): Promise<string | null> {
  const rows = await tx<SecretRow[]>`
    select tenant_id, kind, key_id, nonce, ciphertext, auth_tag from alphadome.bot_tenant_secrets
     where tenant_id = ${tenantId} and kind = ${kind}`;
  const row = rows[0];
  return row ? keyring.open(fromRow(row), tenantId, kind) : null;
}

/** Which secrets a tenant has, without decrypting anything. */
export async function listSecretKinds(tx: Tx, tenantId: string): Promise<{ kind: SecretKind; keyId: string; updatedAt: Date }[]> {
  const rows = await tx<{ kind: SecretKind; key_id: string; updated_at: Date }[]>`
    select kind, key_id, coalesce(rotated_at, created_at) as updated_at
      from alphadome.bot_tenant_secrets where tenant_id = ${tenantId} order by kind`;
  return rows.map((r) => ({ kind: r.kind, keyId: r.key_id, updatedAt: r.updated_at }));
}

/** Re-seal every secret of the transaction's tenant under the active key. Returns how many changed. */
export async function resealTenantSecrets(tx: Tx, keyring: Keyring, tenantId: string): Promise<number> {
  const rows = await tx<SecretRow[]>`
    select tenant_id, kind, key_id, nonce, ciphertext, auth_tag from alphadome.bot_tenant_secrets
     where tenant_id = ${tenantId} for update`;
  let changed = 0;
  for (const row of rows) {
    if (row.key_id === keyring.activeKeyId) continue;
    const plaintext = keyring.open(fromRow(row), tenantId, row.kind);
    await putSecret(tx, keyring, tenantId, row.kind, plaintext);
    changed++;
  }
  return changed;
}
