import { Keyring, migrate } from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';

export async function migrateCommand(ctx: CliContext): Promise<void> {
  const sql = ctx.sql();
  const spec = ctx.env().ENCRYPTION_KEYS;
  // the keyring is needed only when legacy plaintext credentials are found
  const result = await migrate(sql, { keyring: () => Keyring.fromSpec(spec) });
  ctx.result(result, () => {
    for (const f of result.applied) ctx.out(`applied ${f}`);
    ctx.out(
      `${result.applied.length} migration(s) applied, ${result.skipped.length} already applied` +
        (result.legacySecretsMoved > 0 ? `; ${result.legacySecretsMoved} legacy plaintext credential(s) encrypted` : ''),
    );
  });
}
