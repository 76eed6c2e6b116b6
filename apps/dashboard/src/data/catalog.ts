import { z } from 'zod';
import { AppError, isUniqueViolation, isUuid, type Tx } from '@alphadome/tenant-core';

/**
 * The catalog as the owner edits it (bot_products, bot_product_variants, bot_product_images).
 * Every function takes a withTenant transaction: RLS limits it to the session's tenant whatever
 * the arguments, and an id that is not a uuid (or is another tenant's) reads as absent (null /
 * false). The product_variant_text trigger keeps search in step with variant edits.
 */

const text = (max: number) => z.string().trim().max(max, `is longer than ${max} characters`);
const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `is longer than ${max} characters`)
    .nullish()
    .transform((s) => (s ? s : null));

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

/** "18500", "18,500", "KES 18,500", 18500 → 18500; '' / null → null (price on request, stock not counted). */
const amount = (whole: boolean) =>
  z.preprocess(
    (v) => {
      if (v === null || v === undefined) return null;
      if (typeof v === 'number') return v;
      if (typeof v !== 'string') return v;
      const s = v.replace(/^(kes|ksh|kshs)\.?\s*/i, '').replace(/,/g, '').trim();
      if (s === '') return null;
      return /^\d+(\.\d{1,2})?$/.test(s) ? Number(s) : v;
    },
    (whole
      ? z.number({ error: 'must be a whole number' }).int('must be a whole number').max(2_000_000_000, 'is too large')
      : z.number({ error: 'must be a number' }).max(9_999_999_999.99, 'is too large')
    )
      .min(0, 'must not be negative')
      .nullable(),
  );

export const productInputSchema = z.object({
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
  price: amount(false).default(null),
  currency: z
    .string()
    .trim()
    .transform((s) => s.toUpperCase() || 'KES')
    .pipe(z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code such as KES'))
    .default('KES'),
  stock: amount(true).default(null),
  isActive: z.boolean().default(true),
  imageUrl: z
    .union([httpUrl, z.literal(''), z.null()])
    .optional()
    .transform((s) => (s ? s : null)),
});
export type ProductInput = z.input<typeof productInputSchema>;
export type ProductRecord = z.output<typeof productInputSchema>;

export const productPatchSchema = productInputSchema.partial();
export type ProductPatch = z.input<typeof productPatchSchema>;

export const variantInputSchema = z.object({
  name: z.string({ error: 'is required' }).trim().min(1, 'is empty').max(200, 'is longer than 200 characters'),
  sku: optionalText(64),
  price: amount(false).default(null),
  stock: amount(true).default(null),
  isActive: z.boolean().default(true),
});
export type VariantInput = z.input<typeof variantInputSchema>;

export const imageInputSchema = z.object({ url: httpUrl });

export interface Product {
  id: string;
  sku: string | null;
  name: string;
  description: string | null;
  category: string | null;
  brand: string | null;
  price: number | null;
  currency: string;
  stock: number | null;
  isActive: boolean;
  imageUrl: string | null;
  updatedAt: Date;
}

export interface Variant {
  id: string;
  productId: string;
  sku: string | null;
  name: string;
  price: number | null;
  stock: number | null;
  isActive: boolean;
}

export interface ProductImage {
  id: string;
  url: string;
  position: number;
}

export interface ProductDetail extends Product {
  variants: Variant[];
  images: ProductImage[];
}

interface ProductRow {
  id: string;
  sku: string | null;
  name: string;
  description: string | null;
  category: string | null;
  brand: string | null;
  price: string | null;
  currency: string | null;
  stock: number | null;
  is_active: boolean;
  image_url: string | null;
  updated_at: Date;
}

const productCols = 'id, sku, name, description, category, brand, price, currency, stock, is_active, image_url, updated_at';

const toProduct = (r: ProductRow): Product => ({
  id: r.id,
  sku: r.sku,
  name: r.name,
  description: r.description,
  category: r.category,
  brand: r.brand,
  price: r.price === null ? null : Number(r.price),
  currency: r.currency ?? 'KES',
  stock: r.stock,
  isActive: r.is_active,
  imageUrl: r.image_url,
  updatedAt: r.updated_at,
});

interface VariantRow {
  id: string;
  product_id: string;
  sku: string | null;
  name: string;
  price: string | null;
  stock: number | null;
  is_active: boolean;
}
const toVariant = (r: VariantRow): Variant => ({
  id: r.id,
  productId: r.product_id,
  sku: r.sku,
  name: r.name,
  price: r.price === null ? null : Number(r.price),
  stock: r.stock,
  isActive: r.is_active,
});

function conflict(err: unknown, what: string): never {
  if (isUniqueViolation(err)) throw new AppError('conflict', `${what} exists already`);
  throw err;
}

export const PRODUCT_PAGE_SIZE = 50;

/** One page of the catalog by name; `total` for the pager. */
export async function listProducts(
  tx: Tx,
  tenantId: string,
  opts: { page?: number; limit?: number } = {},
): Promise<{ products: Product[]; total: number }> {
  const limit = Math.min(Math.max(opts.limit ?? PRODUCT_PAGE_SIZE, 1), 200);
  const offset = Math.max((opts.page ?? 1) - 1, 0) * limit;
  const rows = await tx<ProductRow[]>`
    select ${tx.unsafe(productCols)} from alphadome.bot_products
     where tenant_id = ${tenantId} order by lower(name), id limit ${limit} offset ${offset}`;
  const [count] = await tx<{ n: number }[]>`select count(*)::int as n from alphadome.bot_products where tenant_id = ${tenantId}`;
  return { products: rows.map(toProduct), total: count?.n ?? 0 };
}

/** Products by id, in the given order (for search hits, which carry only what the bot needs). */
export async function productsByIds(tx: Tx, tenantId: string, ids: readonly string[]): Promise<Product[]> {
  if (ids.length === 0) return [];
  const rows = await tx<ProductRow[]>`
    select ${tx.unsafe(productCols)} from alphadome.bot_products
     where tenant_id = ${tenantId} and id = any(${ids as string[]}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id, toProduct(r)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export async function getProduct(tx: Tx, tenantId: string, id: string): Promise<ProductDetail | null> {
  if (!isUuid(id)) return null;
  const rows = await tx<ProductRow[]>`select ${tx.unsafe(productCols)} from alphadome.bot_products where tenant_id = ${tenantId} and id = ${id}`;
  const row = rows[0];
  if (!row) return null;
  const variants = await tx<VariantRow[]>`
    select id, product_id, sku, name, price, stock, is_active from alphadome.bot_product_variants
     where tenant_id = ${tenantId} and product_id = ${id} order by name, id`;
  const images = await tx<ProductImage[]>`
    select id, url, position from alphadome.bot_product_images
     where tenant_id = ${tenantId} and product_id = ${id} order by position, created_at, id`;
  return { ...toProduct(row), variants: variants.map(toVariant), images: images.map((i) => ({ ...i })) };
}

export async function createProduct(tx: Tx, input: ProductInput): Promise<Product> {
  const p = productInputSchema.parse(input);
  try {
    const rows = await tx<ProductRow[]>`
      insert into alphadome.bot_products (sku, name, description, category, brand, price, currency, stock, is_active, image_url)
      values (${p.sku}, ${p.name}, ${p.description}, ${p.category}, ${p.brand}, ${p.price}, ${p.currency}, ${p.stock},
              ${p.isActive}, ${p.imageUrl})
      returning ${tx.unsafe(productCols)}`;
    return toProduct(rows[0]!);
  } catch (err) {
    conflict(err, `a product with SKU "${p.sku}"`);
  }
}

/** Change the given fields of one product; null when it is not the tenant's. */
export async function updateProduct(tx: Tx, tenantId: string, id: string, patch: ProductPatch): Promise<Product | null> {
  if (!isUuid(id)) return null;
  const p = productPatchSchema.parse(patch);
  const set: Record<string, unknown> = {};
  const columns: Record<string, string> = {
    sku: 'sku', name: 'name', description: 'description', category: 'category', brand: 'brand', price: 'price',
    currency: 'currency', stock: 'stock', isActive: 'is_active', imageUrl: 'image_url',
  };
  // only keys the caller gave (partial() still runs defaults on absent keys for some types)
  for (const [k, col] of Object.entries(columns)) if (k in (patch as object) && (p as Record<string, unknown>)[k] !== undefined) set[col] = (p as Record<string, unknown>)[k];
  try {
    const rows = Object.keys(set).length
      ? await tx<ProductRow[]>`update alphadome.bot_products set ${tx(set as Record<string, never>)}
                                where tenant_id = ${tenantId} and id = ${id} returning ${tx.unsafe(productCols)}`
      : await tx<ProductRow[]>`select ${tx.unsafe(productCols)} from alphadome.bot_products where tenant_id = ${tenantId} and id = ${id}`;
    return rows[0] ? toProduct(rows[0]) : null;
  } catch (err) {
    conflict(err, `a product with SKU "${String(set.sku)}"`);
  }
}

export async function deleteProduct(tx: Tx, tenantId: string, id: string): Promise<Product | null> {
  if (!isUuid(id)) return null;
  const rows = await tx<ProductRow[]>`delete from alphadome.bot_products where tenant_id = ${tenantId} and id = ${id} returning ${tx.unsafe(productCols)}`;
  return rows[0] ? toProduct(rows[0]) : null;
}

export async function addVariant(tx: Tx, tenantId: string, productId: string, input: VariantInput): Promise<Variant | null> {
  if (!isUuid(productId)) return null;
  const v = variantInputSchema.parse(input);
  try {
    const rows = await tx<VariantRow[]>`
      insert into alphadome.bot_product_variants (product_id, sku, name, price, stock, is_active)
      select p.id, ${v.sku}, ${v.name}, ${v.price}, ${v.stock}, ${v.isActive}
        from alphadome.bot_products p where p.tenant_id = ${tenantId} and p.id = ${productId}
      returning id, product_id, sku, name, price, stock, is_active`;
    return rows[0] ? toVariant(rows[0]) : null;
  } catch (err) {
    conflict(err, `a variant with SKU "${v.sku ?? ''}"`);
  }
}

export async function updateVariant(tx: Tx, tenantId: string, productId: string, variantId: string, input: VariantInput): Promise<Variant | null> {
  if (!isUuid(productId) || !isUuid(variantId)) return null;
  const v = variantInputSchema.parse(input);
  try {
    const rows = await tx<VariantRow[]>`
      update alphadome.bot_product_variants
         set sku = ${v.sku}, name = ${v.name}, price = ${v.price}, stock = ${v.stock}, is_active = ${v.isActive}
       where tenant_id = ${tenantId} and product_id = ${productId} and id = ${variantId}
      returning id, product_id, sku, name, price, stock, is_active`;
    return rows[0] ? toVariant(rows[0]) : null;
  } catch (err) {
    conflict(err, `a variant with SKU "${v.sku ?? ''}"`);
  }
}

export async function deleteVariant(tx: Tx, tenantId: string, productId: string, variantId: string): Promise<Variant | null> {
  if (!isUuid(productId) || !isUuid(variantId)) return null;
  const rows = await tx<VariantRow[]>`
    delete from alphadome.bot_product_variants where tenant_id = ${tenantId} and product_id = ${productId} and id = ${variantId}
    returning id, product_id, sku, name, price, stock, is_active`;
  return rows[0] ? toVariant(rows[0]) : null;
}

export async function addImage(tx: Tx, tenantId: string, productId: string, url: string): Promise<ProductImage | null> {
  if (!isUuid(productId)) return null;
  const { url: u } = imageInputSchema.parse({ url });
  const rows = await tx<ProductImage[]>`
    insert into alphadome.bot_product_images (product_id, url, position)
    select p.id, ${u}, coalesce((select max(position) + 1 from alphadome.bot_product_images i where i.product_id = p.id), 0)
      from alphadome.bot_products p where p.tenant_id = ${tenantId} and p.id = ${productId}
    returning id, url, position`;
  const img = rows[0];
  if (!img) return null;
  // the product's main picture is what the bot sends: the first picture added becomes it
  await tx`update alphadome.bot_products set image_url = ${u} where id = ${productId} and image_url is null`;
  return { ...img };
}

export async function deleteImage(tx: Tx, tenantId: string, productId: string, imageId: string): Promise<ProductImage | null> {
  if (!isUuid(productId) || !isUuid(imageId)) return null;
  const rows = await tx<ProductImage[]>`
    delete from alphadome.bot_product_images where tenant_id = ${tenantId} and product_id = ${productId} and id = ${imageId}
    returning id, url, position`;
  const img = rows[0];
  if (!img) return null;
  // the main picture goes with it: the next picture (if any) takes its place
  await tx`update alphadome.bot_products p
              set image_url = (select i.url from alphadome.bot_product_images i where i.product_id = p.id order by i.position, i.created_at limit 1)
            where p.id = ${productId} and p.image_url = ${img.url}`;
  return { ...img };
}
