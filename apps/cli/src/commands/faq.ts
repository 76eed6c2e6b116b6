import {
  addFaq,
  appendAudit,
  countFaqs,
  deleteFaq,
  faqInputSchema,
  importFaqs,
  languageSchema,
  listFaqs,
  parseFaqFile,
  requireTenantIdBySlug,
  AppError,
  withTenant,
} from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { parseOption, readInputFile } from '../input.ts';
import { preview, table } from '../output.ts';

export async function faqAdd(ctx: CliContext, slug: string, o: { question: string; answer: string; language?: string }): Promise<void> {
  const shape = faqInputSchema.shape;
  const input = {
    question: parseOption(shape.question, o.question, '--question'),
    answer: parseOption(shape.answer, o.answer, '--answer'),
    language: parseOption(languageSchema, o.language ?? 'en', '--language'),
  };
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const faq = await withTenant(sql, id, async (tx) => {
    const f = await addFaq(tx, id, input);
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: 'faq.added', detail: { id: f.id, question: f.question } });
    return f;
  });
  ctx.tenantChanged(id);
  ctx.result({ faq }, () => ctx.out(`added FAQ ${faq.id} to ${slug}`));
}

export async function faqImport(ctx: CliContext, slug: string, file: string, o: { replace?: boolean }): Promise<void> {
  // parse and check every row before touching the database
  const text = await readInputFile(ctx, file, 'FILE');
  const rows = parseFaqFile(text, file);
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const result = await withTenant(sql, id, async (tx) => {
    const r = await importFaqs(tx, id, rows, { replace: Boolean(o.replace) });
    const total = await countFaqs(tx, id);
    await appendAudit(tx, {
      tenantId: id,
      actor: ctx.actor,
      action: 'faq.imported',
      detail: { file: file.split('/').pop() ?? file, rows: rows.length, ...r },
    });
    return { ...r, total };
  });
  ctx.tenantChanged(id);
  ctx.result({ tenant: slug, file, rows: rows.length, ...result }, () =>
    ctx.out(
      `imported ${rows.length} row(s) into ${slug}: ${result.inserted} new, ${result.updated} updated` +
        `${o.replace ? `, ${result.deleted} removed` : ''}; ${result.total} FAQ entries in all`,
    ),
  );
}

export async function faqList(ctx: CliContext, slug: string, o: { language?: string }): Promise<void> {
  const language = o.language === undefined ? undefined : parseOption(languageSchema, o.language, '--language');
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const faqs = await withTenant(sql, id, (tx) => listFaqs(tx, id, { limit: 10_000, ...(language && { language }) }));
  ctx.result({ faqs }, () => {
    if (faqs.length === 0) return ctx.out(`no FAQ entries for ${slug}: alphadome faq import ${slug} FILE.csv`);
    const rows = faqs.map((f) => [f.id.slice(0, 8), f.language, preview(f.question, 50), preview(f.answer, 60) + (f.isActive ? '' : ' [inactive]')]);
    for (const line of table(rows, ['ID', 'LANG', 'QUESTION', 'ANSWER'])) ctx.out(line);
  });
}

export async function faqDelete(ctx: CliContext, slug: string, faqId: string): Promise<void> {
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  await withTenant(sql, id, async (tx) => {
    if (!(await deleteFaq(tx, id, faqId))) throw new AppError('not_found', `FAQ ${faqId} not found for tenant "${slug}"`);
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: 'faq.deleted', detail: { id: faqId } });
  });
  ctx.tenantChanged(id);
  ctx.result({ deleted: faqId }, () => ctx.out(`deleted FAQ ${faqId} from ${slug}`));
}
