import {
  appendAudit,
  appendPlatformAudit,
  createUser,
  emailSchema,
  passwordSchema,
  requireTenantIdBySlug,
  setPassword,
  userRoleSchema,
  withOperator,
  withTenant,
  AppError,
} from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseOption, readSecret } from '../input.ts';

async function readPassword(ctx: CliContext, file: string): Promise<string> {
  const password = await readSecret(ctx, file, '--password-file', { allowSpaces: true });
  const r = passwordSchema.safeParse(password);
  // the message says what is wrong with it, never what it is
  if (!r.success) throw new AppError('bad_request', `--password-file: the password ${r.error.issues[0]?.message ?? 'is not acceptable'}`);
  return password;
}

export async function userCreate(
  ctx: CliContext,
  o: { email: string; role: string; tenant?: string; passwordFile: string },
): Promise<void> {
  const email = parseOption(emailSchema, o.email, '--email');
  const role = parseOption(userRoleSchema, o.role, '--role');
  if (role === 'owner' && !o.tenant) throw new UsageError('--tenant: an owner belongs to a tenant; give --tenant <slug>');
  if (role === 'operator' && o.tenant) throw new UsageError('--tenant: an operator belongs to no tenant; leave --tenant out');
  const password = await readPassword(ctx, o.passwordFile);
  const sql = ctx.sql();
  const tenantId = o.tenant ? await requireTenantIdBySlug(sql, o.tenant) : null;
  const user = await withOperator(sql, async (tx) => {
    const u = await createUser(tx, { email, role, tenantId, password });
    await appendPlatformAudit(tx, { actor: ctx.actor, action: 'user.created', detail: { userId: u.id, email, role, tenant: o.tenant ?? null } });
    return u;
  });
  if (tenantId) {
    await withTenant(sql, tenantId, (tx) =>
      appendAudit(tx, { tenantId, actor: ctx.actor, action: 'user.created', detail: { userId: user.id, email, role } }),
    );
  }
  ctx.result({ user }, () => ctx.out(`created ${role} ${user.email}${o.tenant ? ` for ${o.tenant}` : ''}`));
}

export async function userSetPassword(ctx: CliContext, o: { email: string; passwordFile: string }): Promise<void> {
  const email = parseOption(emailSchema, o.email, '--email');
  const password = await readPassword(ctx, o.passwordFile);
  const user = await withOperator(ctx.sql(), async (tx) => {
    const u = await setPassword(tx, email, password);
    await appendPlatformAudit(tx, { actor: ctx.actor, action: 'user.password_set', detail: { userId: u.id, email: u.email } });
    return u;
  });
  ctx.result({ user }, () => ctx.out(`password set for ${user.email}; their sessions were signed out`));
}
