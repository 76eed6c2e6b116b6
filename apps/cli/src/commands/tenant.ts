import {
  AppError,
  appendAudit,
  clientNameSchema,
  controlSettingsSchema,
  countFaqs,
  createTenant,
  currencySchema,
  e164Schema,
  emailSchema,
  getControlSettings,
  getTenant,
  isoDateTimeSchema,
  listAudit,
  listSecretKinds,
  listTemplates,
  listTenants,
  modelSchema,
  phoneNumberIdSchema,
  putSecret,
  requireTenantIdBySlug,
  setCredentialStatus,
  setTenantActive,
  slugSchema,
  timezoneSchema,
  updateTenant,
  updateTenantRouting,
  upsertControlSettings,
  wabaIdSchema,
  withOperator,
  withTenant,
  type ControlSettingsPatch,
  type SecretKind,
  type Tenant,
  type TenantUpdate,
} from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseOnOff, parseOption, readInputFile, readSecret, trimTrailingNewline } from '../input.ts';
import { dash, fields, iso, preview, table, yesNo } from '../output.ts';

export interface CreateOptions {
  slug: string;
  name: string;
  phoneNumberId: string;
  wabaId?: string;
  displayPhone?: string;
  ownMetaApp?: boolean;
  platform?: boolean;
  coexistence?: boolean;
  currency?: string;
  timezone?: string;
  model?: string;
}

export async function tenantCreate(ctx: CliContext, o: CreateOptions): Promise<void> {
  const input = {
    slug: parseOption(slugSchema, o.slug, '--slug'),
    clientName: parseOption(clientNameSchema, o.name, '--name'),
    phoneNumberId: parseOption(phoneNumberIdSchema, o.phoneNumberId, '--phone-number-id'),
    ...(o.wabaId !== undefined && { wabaId: parseOption(wabaIdSchema, o.wabaId, '--waba-id') }),
    ...(o.displayPhone !== undefined && { displayPhone: parseOption(e164Schema, o.displayPhone, '--display-phone') }),
    ...(o.currency !== undefined && { currency: parseOption(currencySchema, o.currency, '--currency') }),
    ...(o.timezone !== undefined && { timezone: parseOption(timezoneSchema, o.timezone, '--timezone') }),
    ...(o.model !== undefined && { aiModel: parseOption(modelSchema, o.model, '--model') }),
    ownMetaApp: Boolean(o.ownMetaApp),
    isPlatform: Boolean(o.platform),
    coexistence: Boolean(o.coexistence),
  };
  const sql = ctx.sql();
  if (input.isPlatform) {
    const existing = (await withOperator(sql, listTenants)).find((t) => t.isPlatform);
    if (existing) throw new AppError('conflict', `tenant "${existing.slug}" is already the platform tenant`);
  }
  const tenant = await createTenant(sql, input, { actor: ctx.actor });
  ctx.tenantChanged(tenant.id);
  ctx.result({ tenant }, () => {
    ctx.out(`created tenant ${tenant.slug} (${tenant.clientName}), id ${tenant.id}`);
    ctx.out(`next: alphadome tenant set-credentials ${tenant.slug} --whatsapp-token-file FILE`);
  });
}

export interface SetCredentialsOptions {
  whatsappTokenFile?: string;
  appSecretFile?: string;
  openaiKeyFile?: string;
  tokenExpiresAt?: string;
}

export async function tenantSetCredentials(ctx: CliContext, slug: string, o: SetCredentialsOptions): Promise<void> {
  if (!o.whatsappTokenFile && !o.appSecretFile && !o.openaiKeyFile && !o.tokenExpiresAt) {
    throw new UsageError('give at least one of --whatsapp-token-file, --app-secret-file, --openai-key-file, --token-expires-at');
  }
  const expiresAt = o.tokenExpiresAt === undefined ? undefined : parseOption(isoDateTimeSchema, o.tokenExpiresAt, '--token-expires-at');
  const keyring = ctx.keyring();
  // read every secret before touching the database: a missing file changes nothing
  const secrets: [SecretKind, string][] = [];
  if (o.whatsappTokenFile) secrets.push(['whatsapp_token', await readSecret(ctx, o.whatsappTokenFile, '--whatsapp-token-file')]);
  if (o.appSecretFile) secrets.push(['meta_app_secret', await readSecret(ctx, o.appSecretFile, '--app-secret-file')]);
  if (o.openaiKeyFile) secrets.push(['openai_key', await readSecret(ctx, o.openaiKeyFile, '--openai-key-file')]);

  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const newToken = secrets.some(([kind]) => kind === 'whatsapp_token');
  const tenant = await withTenant(sql, id, async (tx) => {
    for (const [kind, value] of secrets) await putSecret(tx, keyring, id, kind, value);
    if (newToken) {
      // the expiry belonged to the old token: a new one without a date never expires (system user token)
      await updateTenant(tx, id, { tokenExpiresAt: expiresAt ?? null });
      await setCredentialStatus(tx, id, 'valid');
    } else if (expiresAt) {
      await updateTenant(tx, id, { tokenExpiresAt: expiresAt });
    }
    await appendAudit(tx, {
      tenantId: id,
      actor: ctx.actor,
      action: 'secrets.set',
      detail: { kinds: secrets.map(([k]) => k), keyId: keyring.activeKeyId, tokenExpiresAt: expiresAt?.toISOString() ?? null },
    });
    return (await getTenant(tx, id))!;
  });
  ctx.tenantChanged(id);
  if (secrets.some(([k]) => k === 'meta_app_secret') && !tenant.ownMetaApp) {
    ctx.warn(`tenant "${slug}" uses the platform's Meta app; its own app secret is stored but used only with --own-meta-app`);
  }
  const stored = secrets.map(([k]) => k);
  ctx.result(
    { tenant: tenant.slug, id, stored, keyId: keyring.activeKeyId, credentialStatus: tenant.credentialStatus, tokenExpiresAt: tenant.tokenExpiresAt },
    () => {
      if (stored.length > 0) ctx.out(`stored ${stored.join(', ')} for ${tenant.slug} (sealed with key ${keyring.activeKeyId})`);
      ctx.out(`credentials: ${tenant.credentialStatus}; token expires: ${tenant.tokenExpiresAt ? iso(tenant.tokenExpiresAt) : 'never/unknown'}`);
    },
  );
}

export async function tenantList(ctx: CliContext): Promise<void> {
  const tenants = await withOperator(ctx.sql(), listTenants);
  ctx.result({ tenants }, () => {
    if (tenants.length === 0) return ctx.out('no tenants yet: alphadome tenant create --slug … --name … --phone-number-id …');
    const rows = tenants.map((t) => [
      t.slug,
      t.isActive ? 'active' : 'disabled',
      t.credentialStatus,
      dash(t.phoneNumberId),
      dash(t.displayPhone),
      String(t.messages7d),
      t.clientName + (t.isPlatform ? ' [platform]' : ''),
    ]);
    for (const line of table(rows, ['SLUG', 'STATUS', 'CREDENTIALS', 'PHONE NUMBER ID', 'DISPLAY', 'MSGS 7D', 'NAME'])) ctx.out(line);
  });
}

export async function tenantShow(ctx: CliContext, slug: string): Promise<void> {
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const doc = await withTenant(sql, id, async (tx) => ({
    tenant: (await getTenant(tx, id))!,
    settings: await getControlSettings(tx, id),
    // which secrets exist and under which key: never their values
    secrets: await listSecretKinds(tx, id),
    counts: { faq: await countFaqs(tx, id), templates: (await listTemplates(tx, id)).length },
    recentAudit: await listAudit(tx, id, { limit: 10 }),
  }));
  ctx.result(doc, () => {
    const { tenant: t, settings: s } = doc;
    ctx.out(`${t.clientName} (${t.slug})`);
    for (const line of fields([
      ['id', t.id],
      ['status', t.isActive ? 'active' : 'disabled'],
      ['phone number id', dash(t.phoneNumberId)],
      ['display phone', dash(t.displayPhone)],
      ['WABA id', dash(t.wabaId)],
      ['own Meta app', yesNo(t.ownMetaApp)],
      ['platform tenant', yesNo(t.isPlatform)],
      ['coexistence', yesNo(t.coexistence)],
      ['credentials', `${t.credentialStatus}${t.tokenExpiresAt ? `, token expires ${iso(t.tokenExpiresAt)}` : ''}`],
      ['model', t.aiModel ?? 'platform default'],
      ['currency, zone', `${t.currency}, ${t.timezone}`],
      ['bot', s.botEnabled ? 'on' : 'off'],
      ['send rate', `${s.sendRatePerSecond} msg/s`],
      ['debounce', `${s.debounceMs} ms`],
      ['escalation', `${dash(s.escalationPhone)} / ${dash(s.escalationEmail)}`],
      ['system prompt', s.systemPrompt ? `${preview(s.systemPrompt)} (${s.systemPrompt.length} chars)` : '-'],
      ['fallback message', preview(s.fallbackMessage)],
      ['FAQ entries', String(doc.counts.faq)],
      ['templates', String(doc.counts.templates)],
      ['created', iso(t.createdAt)],
    ]))
      ctx.out(line);
    ctx.out('secrets');
    if (doc.secrets.length === 0) ctx.out('  none: alphadome tenant set-credentials ' + t.slug + ' --whatsapp-token-file FILE');
    for (const line of table(doc.secrets.map((x) => [`  ${x.kind}`, `key ${x.keyId}`, `updated ${iso(x.updatedAt)}`]))) ctx.out(line);
    if (doc.recentAudit.length > 0) {
      ctx.out('recent changes');
      for (const line of table(doc.recentAudit.map((a) => [`  ${iso(a.createdAt)}`, a.actor, a.action]))) ctx.out(line);
    }
  });
}

export async function tenantSetActive(ctx: CliContext, slug: string, active: boolean): Promise<void> {
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const tenant = await withTenant(sql, id, async (tx) => {
    const t = await setTenantActive(tx, id, active);
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: active ? 'tenant.enabled' : 'tenant.disabled' });
    return t;
  });
  ctx.tenantChanged(id);
  ctx.result({ tenant }, () => ctx.out(`tenant ${slug} ${active ? 'enabled' : 'disabled'}`));
}

export interface UpdateOptions {
  name?: string;
  displayPhone?: string;
  phoneNumberId?: string;
  wabaId?: string;
  sendRate?: string;
  debounceMs?: string;
  escalationPhone?: string;
  escalationEmail?: string;
  systemPromptFile?: string;
  fallbackMessage?: string;
  handoverMessage?: string;
  awayMessage?: string;
  model?: string;
  bot?: string;
  currency?: string;
  timezone?: string;
}

const integer = (flag: string, value: string): number => {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${flag}: must be a whole number, got "${value}"`);
  return Number(value);
};

/** The flag that sets each changed field, for the summary line. */
const updateFlags: Record<string, string> = {
  clientName: '--name',
  displayPhone: '--display-phone',
  wabaId: '--waba-id',
  aiModel: '--model',
  currency: '--currency',
  timezone: '--timezone',
  phoneNumberId: '--phone-number-id',
  sendRatePerSecond: '--send-rate',
  debounceMs: '--debounce-ms',
  escalationPhone: '--escalation-phone',
  escalationEmail: '--escalation-email',
  fallbackMessage: '--fallback-message',
  handoverMessage: '--handover-message',
  awayMessage: '--away-message',
  botEnabled: '--bot',
  systemPrompt: '--system-prompt-file',
};

/** An empty string clears an optional value (`--escalation-email ""`). */
const orNull = <T>(value: string, parse: (v: string) => T): T | null => (value === '' ? null : parse(value));

export async function tenantUpdate(ctx: CliContext, slug: string, o: UpdateOptions): Promise<void> {
  const tenantPatch: TenantUpdate = {};
  const settingsPatch: ControlSettingsPatch = {};
  let phoneNumberId: string | undefined;

  if (o.name !== undefined) tenantPatch.clientName = parseOption(clientNameSchema, o.name, '--name');
  if (o.displayPhone !== undefined) tenantPatch.displayPhone = orNull(o.displayPhone, (v) => parseOption(e164Schema, v, '--display-phone'));
  if (o.wabaId !== undefined) tenantPatch.wabaId = orNull(o.wabaId, (v) => parseOption(wabaIdSchema, v, '--waba-id'));
  if (o.model !== undefined) tenantPatch.aiModel = orNull(o.model, (v) => parseOption(modelSchema, v, '--model'));
  if (o.currency !== undefined) tenantPatch.currency = parseOption(currencySchema, o.currency, '--currency');
  if (o.timezone !== undefined) tenantPatch.timezone = parseOption(timezoneSchema, o.timezone, '--timezone');
  if (o.phoneNumberId !== undefined) phoneNumberId = parseOption(phoneNumberIdSchema, o.phoneNumberId, '--phone-number-id');

  const settings = controlSettingsSchema.shape;
  if (o.sendRate !== undefined) settingsPatch.sendRatePerSecond = parseOption(settings.sendRatePerSecond, integer('--send-rate', o.sendRate), '--send-rate');
  if (o.debounceMs !== undefined) settingsPatch.debounceMs = parseOption(settings.debounceMs, integer('--debounce-ms', o.debounceMs), '--debounce-ms');
  if (o.escalationPhone !== undefined) {
    settingsPatch.escalationPhone = orNull(o.escalationPhone, (v) => parseOption(e164Schema, v, '--escalation-phone'));
  }
  if (o.escalationEmail !== undefined) {
    settingsPatch.escalationEmail = orNull(o.escalationEmail, (v) => parseOption(emailSchema, v, '--escalation-email'));
  }
  if (o.fallbackMessage !== undefined) settingsPatch.fallbackMessage = parseOption(settings.fallbackMessage, o.fallbackMessage, '--fallback-message');
  if (o.handoverMessage !== undefined) settingsPatch.handoverMessage = parseOption(settings.handoverMessage, o.handoverMessage, '--handover-message');
  if (o.awayMessage !== undefined) settingsPatch.awayMessage = parseOption(settings.awayMessage, o.awayMessage, '--away-message');
  if (o.bot !== undefined) settingsPatch.botEnabled = parseOnOff('--bot', o.bot);
  if (o.systemPromptFile !== undefined) {
    const text = trimTrailingNewline(await readInputFile(ctx, o.systemPromptFile, '--system-prompt-file'));
    settingsPatch.systemPrompt = parseOption(settings.systemPrompt, text, '--system-prompt-file');
  }

  const changed = [...Object.keys(tenantPatch), ...Object.keys(settingsPatch), ...(phoneNumberId ? ['phoneNumberId'] : [])];
  if (changed.length === 0) throw new UsageError('nothing to update; see alphadome tenant update --help');

  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  // routing is an operator action (its own transaction); it goes first so a conflict changes nothing
  if (phoneNumberId) await withOperator(sql, (tx) => updateTenantRouting(tx, id, { phoneNumberId }));
  const result = await withTenant(sql, id, async (tx) => {
    const tenant: Tenant = await updateTenant(tx, id, tenantPatch);
    const s = Object.keys(settingsPatch).length > 0 ? await upsertControlSettings(tx, id, settingsPatch) : await getControlSettings(tx, id);
    // names of what changed, and short values; the system prompt only by length
    const detail: Record<string, unknown> = { changed };
    for (const [k, v] of Object.entries({ ...tenantPatch, ...settingsPatch, ...(phoneNumberId && { phoneNumberId }) })) {
      detail[k] = k === 'systemPrompt' ? { length: String(v).length } : v;
    }
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: 'tenant.updated', detail });
    return { tenant, settings: s };
  });
  ctx.tenantChanged(id);
  ctx.result({ ...result, changed }, () => ctx.out(`updated ${slug}: ${changed.map((k) => updateFlags[k] ?? k).join(' ')}`));
}
