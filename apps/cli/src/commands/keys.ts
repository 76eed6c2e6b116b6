import { appendAudit, appendPlatformAudit, listTenants, listSecretKinds, resealTenantSecrets, withOperator, withTenant, AppError } from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { table } from '../output.ts';

interface TenantRotation {
  slug: string;
  id: string;
  secrets: number;
  resealed: number;
  error?: string;
}

/**
 * Re-seal every tenant's secrets under the first key of ENCRYPTION_KEYS, one tenant per
 * transaction. Older keys must stay in ENCRYPTION_KEYS until this reports no failures.
 */
export async function keysRotate(ctx: CliContext): Promise<void> {
  const keyring = ctx.keyring();
  const sql = ctx.sql();
  const tenants = await withOperator(sql, listTenants);
  const results: TenantRotation[] = [];
  for (const t of tenants) {
    try {
      const r = await withTenant(sql, t.id, async (tx) => {
        const secrets = (await listSecretKinds(tx, t.id)).length;
        const resealed = await resealTenantSecrets(tx, keyring, t.id);
        if (secrets > 0) {
          await appendAudit(tx, {
            tenantId: t.id,
            actor: ctx.actor,
            action: 'secrets.rotated',
            detail: { keyId: keyring.activeKeyId, resealed, alreadyCurrent: secrets - resealed },
          });
        }
        return { secrets, resealed };
      });
      results.push({ slug: t.slug, id: t.id, ...r });
      if (r.resealed > 0) ctx.tenantChanged(t.id);
    } catch (err) {
      results.push({ slug: t.slug, id: t.id, secrets: 0, resealed: 0, error: (err as Error).message.split('\n')[0]! });
    }
  }
  const failed = results.filter((r) => r.error);
  const summary = {
    activeKeyId: keyring.activeKeyId,
    tenants: results.length,
    tenantsWithSecrets: results.filter((r) => r.secrets > 0).length,
    secrets: results.reduce((n, r) => n + r.secrets, 0),
    resealed: results.reduce((n, r) => n + r.resealed, 0),
    failed: failed.length,
  };
  await withOperator(sql, (tx) =>
    appendPlatformAudit(tx, { actor: ctx.actor, action: 'keys.rotated', detail: { ...summary, failedTenants: failed.map((f) => f.slug) } }),
  );
  ctx.result({ ...summary, results }, () => {
    const rows = results.filter((r) => r.secrets > 0 || r.error).map((r) => [r.slug, r.error ? `FAILED: ${r.error}` : `${r.resealed} of ${r.secrets} re-sealed`]);
    for (const line of table(rows)) ctx.out(line);
    ctx.out(
      `re-sealed ${summary.resealed} of ${summary.secrets} secret(s) across ${summary.tenantsWithSecrets} tenant(s) under key ${summary.activeKeyId}` +
        (failed.length > 0 ? `; ${failed.length} tenant(s) failed` : ''),
    );
  });
  if (failed.length > 0) {
    throw new AppError('secret', `${failed.length} tenant(s) could not be re-sealed (${failed.map((f) => f.slug).join(', ')}); keep their old key in ENCRYPTION_KEYS`);
  }
}
