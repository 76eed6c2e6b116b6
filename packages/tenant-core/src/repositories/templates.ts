import { isUuid, type Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { templateInputSchema, type TemplateInput, type TemplateKind } from '../schemas.ts';

/**
 * Canned replies and named templates (alphadome.bot_templates), unique per tenant by
 * (name, language). `triggers` are folded to lower case; matching them against a message
 * (on word boundaries, never substrings) is the worker's business.
 */
export interface Template {
  id: string;
  tenantId: string;
  name: string;
  kind: TemplateKind;
  triggers: string[];
  body: string;
  language: string;
  waTemplateName: string | null;
  waTemplateLanguage: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  kind: TemplateKind;
  triggers: string[];
  body: string;
  language: string;
  wa_template_name: string | null;
  wa_template_language: string | null;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

const toTemplate = (r: Row): Template => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  kind: r.kind,
  triggers: r.triggers,
  body: r.body,
  language: r.language,
  waTemplateName: r.wa_template_name,
  waTemplateLanguage: r.wa_template_language,
  isActive: r.is_active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const selectList = (tx: Tx) => tx`
  id, tenant_id, name, kind, triggers, body, language, wa_template_name, wa_template_language,
  is_active, created_at, updated_at`;

/** Add a template, or replace the one with the same (name, language). */
export async function upsertTemplate(
  tx: Tx,
  tenantId: string,
  input: TemplateInput,
): Promise<{ template: Template; created: boolean }> {
  const t = templateInputSchema.parse(input);
  const rows = await tx<(Row & { inserted: boolean })[]>`
    insert into alphadome.bot_templates
      (tenant_id, name, kind, triggers, body, language, wa_template_name, wa_template_language, is_active)
    values (${tenantId}, ${t.name}, ${t.kind}, ${t.triggers}::text[], ${t.body}, ${t.language},
            ${t.waTemplateName ?? null}, ${t.waTemplateLanguage ?? null}, ${t.isActive})
    on conflict (tenant_id, name, language) do update
      set kind = excluded.kind, triggers = excluded.triggers, body = excluded.body,
          wa_template_name = excluded.wa_template_name, wa_template_language = excluded.wa_template_language,
          is_active = excluded.is_active
    returning ${selectList(tx)}, (xmax = 0) as inserted`;
  const row = rows[0]!;
  return { template: toTemplate(row), created: row.inserted };
}

/** Same as upsertTemplate, returning just the template. */
export async function addTemplate(tx: Tx, tenantId: string, input: TemplateInput): Promise<Template> {
  return (await upsertTemplate(tx, tenantId, input)).template;
}

export async function listTemplates(
  tx: Tx,
  tenantId: string,
  opts: { kind?: TemplateKind; activeOnly?: boolean } = {},
): Promise<Template[]> {
  const rows = await tx<Row[]>`
    select ${selectList(tx)} from alphadome.bot_templates
     where tenant_id = ${tenantId}
       ${opts.kind ? tx`and kind = ${opts.kind}` : tx``}
       ${opts.activeOnly ? tx`and is_active` : tx``}
     order by kind, name, language`;
  return rows.map(toTemplate);
}

export async function getTemplate(tx: Tx, tenantId: string, name: string, language = 'en'): Promise<Template | null> {
  const rows = await tx<Row[]>`
    select ${selectList(tx)} from alphadome.bot_templates
     where tenant_id = ${tenantId} and name = ${name} and language = ${language}`;
  return rows[0] ? toTemplate(rows[0]) : null;
}

/** Delete by id, or by (name, language); returns whether a row went. */
export async function deleteTemplate(
  tx: Tx,
  tenantId: string,
  which: { id: string } | { name: string; language?: string },
): Promise<boolean> {
  if ('id' in which && !isUuid(which.id)) return false;
  const rows =
    'id' in which
      ? await tx`delete from alphadome.bot_templates where tenant_id = ${tenantId} and id = ${which.id} returning id`
      : await tx`delete from alphadome.bot_templates
                  where tenant_id = ${tenantId} and name = ${which.name} and language = ${which.language ?? 'en'}
                  returning id`;
  return rows.length > 0;
}

/** Like deleteTemplate, but a missing template is an AppError not_found. */
export async function requireDeleteTemplate(
  tx: Tx,
  tenantId: string,
  which: { id: string } | { name: string; language?: string },
): Promise<void> {
  if (!(await deleteTemplate(tx, tenantId, which))) {
    const label = 'id' in which ? which.id : `${which.name} (${which.language ?? 'en'})`;
    throw new AppError('not_found', `template ${label} not found`);
  }
}
