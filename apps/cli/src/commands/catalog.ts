import { appendAudit, formatPrice, parseCatalogText, requireTenantIdBySlug, searchCatalog, importCatalog, withTenant } from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { readInputFile } from '../input.ts';
import { preview, table } from '../output.ts';

/** `catalog import <slug> FILE.csv|FILE.json`: every row checked first, then one all-or-nothing upsert by SKU. */
export async function catalogImport(ctx: CliContext, slug: string, file: string): Promise<void> {
  const text = await readInputFile(ctx, file, 'FILE');
  const name = file === '-' ? 'stdin' : (file.split('/').pop() ?? file);
  const format = /\.json$/i.test(name) || /^\s*[[{]/.test(text) ? 'json' : 'csv';
  const rows = parseCatalogText(text, format, name);
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const result = await withTenant(sql, id, async (tx) => {
    const r = await importCatalog(tx, rows);
    await appendAudit(tx, { tenantId: id, actor: ctx.actor, action: 'catalog.imported', detail: { file: name, rows: rows.length, ...r } });
    return r;
  });
  ctx.tenantChanged(id);
  ctx.result({ tenant: slug, file, rows: rows.length, ...result }, () =>
    ctx.out(
      `imported ${rows.length} row(s) into ${slug}: ${result.inserted} new, ${result.updated} updated products, ` +
        `${result.variants} variants, ${result.images} images`,
    ),
  );
}

/** `catalog search <slug> QUERY`: what a customer asking QUERY would be shown. */
export async function catalogSearch(ctx: CliContext, slug: string, query: string): Promise<void> {
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const result = await withTenant(sql, id, (tx) => searchCatalog(tx, query));
  ctx.result(result, () => {
    if (result.products.length === 0) return ctx.out(`no products match "${query}"`);
    const rows = result.products.map((p) => [
      p.sku ?? '',
      preview(p.name, 40),
      formatPrice(p.price, p.currency),
      p.stock === null ? 'yes' : String(p.stock),
      p.score.toFixed(2),
    ]);
    for (const line of table(rows, ['SKU', 'NAME', 'PRICE', 'STOCK', 'SCORE'])) ctx.out(line);
  });
}
