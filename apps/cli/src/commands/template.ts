import {
  appendAudit,
  languageSchema,
  listTemplates,
  requireDeleteTemplate,
  requireTenantIdBySlug,
  templateInputSchema,
  templateKindSchema,
  templateNameSchema,
  upsertTemplate,
  withTenant,
} from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseOption, readInputFile, trimTrailingNewline } from '../input.ts';
import { preview, table } from '../output.ts';

export interface TemplateAddOptions {
  name: string;
  triggers?: string;
  body?: string;
  bodyFile?: string;
  kind?: string;
  language?: string;
}

export async function templateAdd(ctx: CliContext, slug: string, o: TemplateAddOptions): Promise<void> {
  if ((o.body === undefined) === (o.bodyFile === undefined)) throw new UsageError('give the reply text with --body or --body-file (one of them)');
  const body = o.body ?? trimTrailingNewline(await readInputFile(ctx, o.bodyFile!, '--body-file'));
  const parsed = templateInputSchema.safeParse({
    name: parseOption(templateNameSchema, o.name, '--name'),
    kind: parseOption(templateKindSchema, o.kind ?? 'canned', '--kind'),
    language: parseOption(languageSchema, o.language ?? 'en', '--language'),
    triggers: o.triggers ?? '',
    body,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`--${String(issue.path[0] ?? 'body')}: ${issue.message}`);
  }
  const input = parsed.data;
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const { template, created } = await withTenant(sql, id, async (tx) => {
    const r = await upsertTemplate(tx, id, input);
    await appendAudit(tx, {
      tenantId: id,
      actor: ctx.actor,
      action: r.created ? 'template.added' : 'template.updated',
      detail: { name: input.name, language: input.language, kind: input.kind, triggers: input.triggers },
    });
    return r;
  });
  ctx.tenantChanged(id);
  ctx.result({ template, created }, () =>
    ctx.out(
      `${created ? 'added' : 'updated'} ${template.kind} template ${template.name} (${template.language}) for ${slug}` +
        (template.triggers.length > 0 ? `; triggers: ${template.triggers.join(', ')}` : ''),
    ),
  );
}

export async function templateList(ctx: CliContext, slug: string): Promise<void> {
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const templates = await withTenant(sql, id, (tx) => listTemplates(tx, id));
  ctx.result({ templates }, () => {
    if (templates.length === 0) return ctx.out(`no templates for ${slug}: alphadome template add ${slug} --name hours --triggers "hours,open" --body "…"`);
    const rows = templates.map((t) => [
      t.name,
      t.kind,
      t.language,
      preview(t.triggers.join(', '), 40) || '-',
      preview(t.body, 60) + (t.isActive ? '' : ' [inactive]'),
    ]);
    for (const line of table(rows, ['NAME', 'KIND', 'LANG', 'TRIGGERS', 'BODY'])) ctx.out(line);
  });
}

export async function templateDelete(ctx: CliContext, slug: string, o: { name: string; language?: string }): Promise<void> {
  const name = parseOption(templateNameSchema, o.name, '--name');
  const language = parseOption(languageSchema, o.language ?? 'en', '--language');
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  await withTenant(sql, id, async (tx) => {
    await requireDeleteTemplate(tx, id, { name, language });
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: 'template.deleted', detail: { name, language } });
  });
  ctx.tenantChanged(id);
  ctx.result({ deleted: { name, language } }, () => ctx.out(`deleted template ${name} (${language}) from ${slug}`));
}
