import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { fileLineError, readCsvRecords } from '../csv-records.ts';
import type { Tx } from '../db.ts';

/**
 * Catalog import files, CSV or JSON. Every row is checked before anything is stored; the first
 * problem is reported as `FILE:LINE: problem` (AppError 'bad_request', `details.line`), and
 * `importCatalog` writes all rows or none.
 *
 * CSV header: sku,name,description,category,brand,price,currency,stock,image_url
 * [,variant_name,variant_sku,variant_price,variant_stock]. A product with variants takes one
 * line per variant; its product columns may be left empty on the lines after its first.
 * JSON: an array of objects with the same fields (snake_case or camelCase), variants as
 * `variants: [{name, sku?, price?, stock?}]`, extra pictures as `images: [url, …]`.
 */
export const MAX_CATALOG_IMPORT_ROWS = 50_000;

const CSV_COLUMNS = [
  'sku', 'name', 'description', 'category', 'brand', 'price', 'currency', 'stock', 'image_url',
  'variant_name', 'variant_sku', 'variant_price', 'variant_stock',
] as const;
const REQUIRED_CSV_COLUMNS = ['sku', 'name', 'price'] as const;

const httpUrl = z
  .string()
  .trim()
  .max(2000, 'is longer than 2000 characters')
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

const money = z
  .number({ error: 'must be a number' })
  .finite('must be a number')
  .min(0, 'must not be negative')
  .max(9_999_999_999.99, 'is too large');
const count = z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must not be negative').max(2_000_000_000, 'is too large');
const optionalText = (max: number) => z.string().trim().max(max, `is longer than ${max} characters`).optional();

export const catalogVariantSchema = z.object({
  sku: z.string().trim().min(1).max(64, 'is longer than 64 characters').optional(),
  name: z.string({ error: 'is required' }).trim().min(1, 'is empty').max(200, 'is longer than 200 characters'),
  price: money.optional(),
  stock: count.optional(),
});

export const catalogRowSchema = z.object({
  sku: z
    .string({ error: 'is required' })
    .trim()
    .min(1, 'is empty')
    .max(64, 'is longer than 64 characters')
    .regex(/^[^\s,]+$/, 'must not contain spaces or commas'),
  name: z.string({ error: 'is required' }).trim().min(1, 'is empty').max(200, 'is longer than 200 characters'),
  description: optionalText(4000),
  category: optionalText(100),
  brand: optionalText(100),
  price: money,
  currency: z
    .string()
    .trim()
    .transform((s) => s.toUpperCase())
    .pipe(z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code such as KES'))
    .optional(),
  /** absent = not counted (shown as available) */
  stock: count.optional(),
  imageUrl: httpUrl.optional(),
  images: z.array(httpUrl).max(20, 'has more than 20 images').optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  isActive: z.boolean().optional(),
  variants: z.array(catalogVariantSchema).max(100, 'has more than 100 variants').default([]),
});

export type CatalogRowInput = z.input<typeof catalogRowSchema>;
export type CatalogRow = z.output<typeof catalogRowSchema>;

export type CatalogFileFormat = 'csv' | 'json';

const bad = fileLineError;

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'is invalid';
  const path = issue.path.map(String);
  const field = path
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : (i > 0 ? '.' : '') + snake(p)))
    .join('');
  return field ? `${field} ${issue.message}` : issue.message;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Read and check a catalog file. `source` is a path, or the file's text with `opts.content`
 * (then `opts.fileName` names it in messages). The format comes from `opts.format` or the
 * file name's extension.
 */
export async function parseCatalogFile(
  source: string,
  opts: { format?: CatalogFileFormat; content?: boolean; fileName?: string } = {},
): Promise<CatalogRow[]> {
  const text = opts.content ? source : await readFile(source, 'utf8');
  const fileName = opts.fileName ?? (opts.content ? 'catalog' : basename(source));
  const format = opts.format ?? (/\.json$/i.test(fileName) ? 'json' : /\.csv$/i.test(fileName) ? 'csv' : undefined);
  if (!format) throw new AppError('bad_request', `${fileName}: unknown file type; use a .csv or .json file`);
  return parseCatalogText(text, format, fileName);
}

/** The synchronous core of parseCatalogFile, for text already in memory. */
export function parseCatalogText(text: string, format: CatalogFileFormat, fileName = 'catalog'): CatalogRow[] {
  return format === 'csv' ? parseCsv(text, fileName) : parseJson(text, fileName);
}

// "18500", "18,500", "18500.50", "KES 18,500" → number; anything else is reported.
function csvNumber(value: string, whole: boolean): number | string | undefined {
  const v = value.replace(/^(kes|ksh|kshs)\.?\s*/i, '').trim();
  if (v === '') return undefined;
  const ok = whole ? /^(\d{1,3}(,\d{3})+|\d+)$/ : /^(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$/;
  return ok.test(v) ? Number(v.replace(/,/g, '')) : value; // a string makes zod report it
}

function parseCsv(text: string, file: string): CatalogRow[] {
  const records = readCsvRecords(text, file);
  const header = records[0];
  const expected = `expected a header ${CSV_COLUMNS.slice(0, 9).join(',')}[,variant_name,variant_sku,variant_price,variant_stock]`;
  if (!header) throw new AppError('bad_request', `${file}: the file is empty; ${expected}`);
  const headerLine = header.line;
  const columns = header.fields.map((c) => c.toLowerCase().trim());
  for (const c of columns) {
    if (!(CSV_COLUMNS as readonly string[]).includes(c)) throw bad(file, headerLine, `unknown column "${c}"; ${expected}`);
  }
  for (const c of REQUIRED_CSV_COLUMNS) {
    if (!columns.includes(c)) throw bad(file, headerLine, `the column "${c}" is missing; ${expected}`);
  }
  if (new Set(columns).size !== columns.length) throw bad(file, headerLine, 'a column is named twice');
  const body = records.slice(1);
  if (body.length === 0) throw new AppError('bad_request', `${file}: no product rows after the header`);
  if (body.length > MAX_CATALOG_IMPORT_ROWS) {
    throw new AppError('bad_request', `${file}: more than ${MAX_CATALOG_IMPORT_ROWS} rows; split the file`);
  }

  const out: CatalogRow[] = [];
  const bySku = new Map<string, CatalogRow>();
  const variantSkus = new Set<string>();
  for (const r of body) {
    const line = r.line;
    if (r.fields.length !== columns.length) {
      throw bad(file, line, `expected ${columns.length} fields (${columns.join(',')}), got ${r.fields.length}`);
    }
    const cell: Record<string, string> = {};
    columns.forEach((c, i) => {
      cell[c] = r.fields[i] ?? '';
    });
    const get = (c: string) => cell[c] ?? '';
    const sku = get('sku');
    const variantName = get('variant_name');
    const hasVariant = ['variant_name', 'variant_sku', 'variant_price', 'variant_stock'].some((c) => get(c) !== '');
    let variant: z.output<typeof catalogVariantSchema> | undefined;
    if (hasVariant) {
      const parsed = catalogVariantSchema.safeParse({
        name: variantName === '' ? undefined : variantName,
        sku: get('variant_sku') || undefined,
        price: csvNumber(get('variant_price'), false),
        stock: csvNumber(get('variant_stock'), true),
      });
      if (!parsed.success) throw bad(file, line, `variant_${firstIssue(parsed.error)}`);
      variant = parsed.data;
      if (variant.sku !== undefined) {
        if (variantSkus.has(variant.sku)) throw bad(file, line, `variant_sku "${variant.sku}" appears twice`);
        variantSkus.add(variant.sku);
      }
    }
    const existing = bySku.get(sku);
    if (existing) {
      // a further line of the same product: it must add a variant and may not contradict the first
      if (!variant) throw bad(file, line, `sku "${sku}" appears twice (a product with variants takes one line per variant)`);
      if (get('name') !== '' && get('name') !== existing.name) {
        throw bad(file, line, `sku "${sku}" has the name "${existing.name}" on an earlier line`);
      }
      existing.variants.push(variant);
      continue;
    }
    const raw: Record<string, unknown> = {
      sku: sku === '' ? undefined : sku,
      name: get('name') === '' ? undefined : get('name'),
      price: get('price') === '' ? undefined : csvNumber(get('price'), false),
      variants: variant ? [variant] : [],
    };
    for (const c of ['description', 'category', 'brand', 'currency'] as const) if (get(c) !== '') raw[c] = get(c);
    if (get('stock') !== '') raw.stock = csvNumber(get('stock'), true);
    if (get('image_url') !== '') raw.imageUrl = get('image_url');
    const parsed = catalogRowSchema.safeParse(raw);
    if (!parsed.success) throw bad(file, line, firstIssue(parsed.error));
    bySku.set(parsed.data.sku, parsed.data);
    out.push(parsed.data);
  }
  checkVariantSkus(out, file, () => headerLine);
  return out;
}

function parseJson(text: string, file: string): CatalogRow[] {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const line = m ? lineAt(text, Number(m[1])) : 1;
    throw bad(file, line, `invalid JSON: ${(err as Error).message.replace(/^Unexpected/, 'unexpected')}`);
  }
  if (!Array.isArray(data)) throw bad(file, 1, 'expected a JSON array of product objects');
  if (data.length === 0) throw new AppError('bad_request', `${file}: the array is empty`);
  if (data.length > MAX_CATALOG_IMPORT_ROWS) {
    throw new AppError('bad_request', `${file}: more than ${MAX_CATALOG_IMPORT_ROWS} rows; split the file`);
  }
  const lines = topLevelElementLines(text);
  const seen = new Set<string>();
  const variantSkus = new Set<string>();
  return data.map((item: unknown, i) => {
    const line = lines[i] ?? 1;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw bad(file, line, 'each element must be an object with "sku", "name" and "price"');
    }
    const obj: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(item as Record<string, unknown>)) {
      const k = camel(key);
      if (!(k in catalogRowSchema.shape)) throw bad(file, line, `unknown field "${key}"`);
      obj[k] = value;
    }
    // JSON written by spreadsheets often quotes numbers
    for (const k of ['price', 'stock'] as const) {
      if (typeof obj[k] === 'string') obj[k] = csvNumber(obj[k] as string, k === 'stock');
      if (obj[k] === null) delete obj[k];
    }
    const parsed = catalogRowSchema.safeParse(obj);
    if (!parsed.success) throw bad(file, line, firstIssue(parsed.error));
    if (seen.has(parsed.data.sku)) throw bad(file, line, `sku "${parsed.data.sku}" appears twice`);
    seen.add(parsed.data.sku);
    for (const v of parsed.data.variants) {
      if (v.sku === undefined) continue;
      if (variantSkus.has(v.sku)) throw bad(file, line, `variant sku "${v.sku}" appears twice`);
      variantSkus.add(v.sku);
    }
    return parsed.data;
  });
}

function checkVariantSkus(rows: CatalogRow[], file: string, line: () => number): void {
  // a variant's sku is unique per tenant among variants; the file must agree with itself
  const seen = new Set<string>();
  for (const r of rows) {
    for (const v of r.variants) {
      if (v.sku === undefined) continue;
      if (seen.has(v.sku)) throw bad(file, line(), `variant sku "${v.sku}" appears twice`);
      seen.add(v.sku);
    }
  }
}

function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The line on which each element of a top-level JSON array starts (the text is valid JSON). */
function topLevelElementLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\uFEFF') continue;
    if (depth === 1 && expectElement && ch !== ']') {
      out.push(line);
      expectElement = false;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectElement = true;
  }
  return out;
}

export interface CatalogImportResult {
  inserted: number;
  updated: number;
  variants: number;
  images: number;
}

const CHUNK = 1000;

/**
 * Upsert rows into the transaction's tenant's catalog by (tenant, sku), all or nothing (in a
 * savepoint, so a caller that catches the error still has nothing half-imported). A row's
 * variants replace that product's variants when it lists any; its `images` replace its
 * pictures when given. Products not in the rows are left alone. Rows are validated again, so
 * this can be called with rows from anywhere (the dashboard, the generator).
 */
export async function importCatalog(tx: Tx, input: readonly CatalogRowInput[]): Promise<CatalogImportResult> {
  const rows: CatalogRow[] = input.map((r, i) => {
    const parsed = catalogRowSchema.safeParse(r);
    if (!parsed.success) throw new AppError('bad_request', `row ${i + 1}: ${firstIssue(parsed.error)}`, { row: i + 1 });
    return parsed.data;
  });
  const skus = new Set<string>();
  for (const [i, r] of rows.entries()) {
    if (skus.has(r.sku)) throw new AppError('bad_request', `row ${i + 1}: sku "${r.sku}" appears twice`, { row: i + 1 });
    skus.add(r.sku);
  }
  if (rows.length === 0) return { inserted: 0, updated: 0, variants: 0, images: 0 };

  return (await tx.savepoint(async (sp) => {
    const result: CatalogImportResult = { inserted: 0, updated: 0, variants: 0, images: 0 };
    const idBySku = new Map<string, string>();
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK).map((r) => ({
        sku: r.sku,
        name: r.name,
        description: r.description ?? null,
        category: r.category ?? null,
        brand: r.brand ?? null,
        price: r.price,
        currency: r.currency ?? 'KES',
        stock: r.stock ?? null,
        image_url: r.imageUrl ?? r.images?.[0] ?? null,
        attributes: JSON.stringify(r.attributes ?? {}),
        is_active: r.isActive ?? true,
      }));
      // jsonb from text: postgres.js sends the parameters of a multi-row insert as text
      const done = await sp<{ id: string; sku: string; inserted: boolean }[]>`
        insert into alphadome.bot_products
          (sku, name, description, category, brand, price, currency, stock, image_url, attributes, is_active)
        select sku, name, description, category, brand, price::numeric, currency, stock::integer, image_url,
               attributes::jsonb, is_active::boolean
          from json_to_recordset(${JSON.stringify(chunk)}::text::json) as x(
            sku text, name text, description text, category text, brand text, price text, currency text,
            stock text, image_url text, attributes text, is_active text)
        on conflict (tenant_id, sku) do update set
          name = excluded.name, description = excluded.description, category = excluded.category,
          brand = excluded.brand, price = excluded.price, currency = excluded.currency,
          stock = excluded.stock, image_url = excluded.image_url, attributes = excluded.attributes,
          is_active = excluded.is_active
        returning id, sku, (xmax = 0) as inserted`;
      for (const d of done) {
        idBySku.set(d.sku, d.id);
        if (d.inserted) result.inserted++;
        else result.updated++;
      }
    }

    const withVariants = rows.filter((r) => r.variants.length > 0);
    if (withVariants.length > 0) {
      const productIds = withVariants.map((r) => idBySku.get(r.sku)!);
      await sp`delete from alphadome.bot_product_variants where product_id = any(${productIds}::uuid[])`;
      const variants = withVariants.flatMap((r) =>
        r.variants.map((v) => ({
          product_id: idBySku.get(r.sku)!,
          sku: v.sku ?? null,
          name: v.name,
          price: v.price ?? null,
          stock: v.stock ?? null,
        })),
      );
      for (let i = 0; i < variants.length; i += CHUNK) {
        await sp`
          insert into alphadome.bot_product_variants (product_id, sku, name, price, stock)
          select product_id::uuid, sku, name, price::numeric, stock::integer
            from json_to_recordset(${JSON.stringify(variants.slice(i, i + CHUNK))}::text::json)
                 as x(product_id text, sku text, name text, price text, stock text)`;
      }
      result.variants = variants.length;
    }

    const withImages = rows.filter((r) => r.images !== undefined);
    if (withImages.length > 0) {
      const productIds = withImages.map((r) => idBySku.get(r.sku)!);
      await sp`delete from alphadome.bot_product_images where product_id = any(${productIds}::uuid[])`;
      const images = withImages.flatMap((r) =>
        (r.images ?? []).map((url, position) => ({ product_id: idBySku.get(r.sku)!, url, position })),
      );
      for (let i = 0; i < images.length; i += CHUNK) {
        await sp`
          insert into alphadome.bot_product_images (product_id, url, position)
          select product_id::uuid, url, position::integer
            from json_to_recordset(${JSON.stringify(images.slice(i, i + CHUNK))}::text::json)
                 as x(product_id text, url text, position text)`;
      }
      result.images = images.length;
    }
    return result;
  })) as CatalogImportResult;
}
