import {
  imageMessage,
  interactiveListMessage,
  LIMITS,
  textMessage,
  truncateText,
  type OutboundMessagePayload,
  type ReplyOptions,
} from '@alphadome/whatsapp';
import type { Tx } from '../db.ts';
import { isUuid } from '../db.ts';
import type { CatalogHit, CatalogIntent, CatalogVariantSummary } from './search.ts';

/**
 * WhatsApp payloads for catalog answers (pure; the worker stores and sends them). One product →
 * an image message with a caption (a text message when it has no picture); several → an
 * interactive list whose rows are `product:<uuid>`, which a tap (`list_reply` /
 * `button_reply`) brings back to `productDetails`.
 */

export const PRODUCT_ROW_PREFIX = 'product:';

export interface CatalogReplyOptions extends ReplyOptions {
  /** the tenant's currency, used when a product has none (default KES) */
  currency?: string;
  intent?: CatalogIntent;
  /** the list's heading text (default "Here is what we have:") */
  listBody?: string;
}

/** "KES 18,500" / "KES 1,250.50": grouped thousands, cents only when there are some. */
export function formatPrice(amount: number | null, currency = 'KES'): string {
  if (amount === null || !Number.isFinite(amount)) return 'Price on request';
  const whole = Number.isInteger(amount);
  const n = amount.toLocaleString('en-US', { minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2 });
  return `${currency} ${n}`;
}

/** "In stock (3)" / "Out of stock" / "In stock" (not counted). */
export function formatStock(stock: number | null): string {
  if (stock === null) return 'In stock';
  return stock > 0 ? `In stock (${stock})` : 'Out of stock';
}

function variantLine(v: CatalogVariantSummary, fallbackPrice: number | null, currency: string): string {
  const price = v.price ?? fallbackPrice;
  const stock = v.stock === null ? '' : v.stock > 0 ? ` (${v.stock} in stock)` : ' (out of stock)';
  return `• ${v.name}: ${formatPrice(price, currency)}${stock}`;
}

/** The caption / detail text of one product: name, price, stock, what it is, its variants. */
export function productCaption(p: CatalogHit, opts: { currency?: string; intent?: CatalogIntent } = {}): string {
  const currency = p.currency || opts.currency || 'KES';
  const lines = [`*${p.name}*`, formatPrice(p.price, currency), formatStock(p.stock)];
  if (p.stock === 0) lines.push('Reply here and we will tell you when it is back, or suggest something similar.');
  if (p.description) lines.push('', p.description);
  const variants = p.variants.slice(0, 10);
  if (variants.length > 0) {
    lines.push('', 'Options:', ...variants.map((v) => variantLine(v, p.price, currency)));
  }
  return truncateText(lines.join('\n'), LIMITS.mediaCaption);
}

/** One product: its picture with the caption, or the caption alone when it has no picture. */
export function productMessage(to: string, p: CatalogHit, opts: CatalogReplyOptions = {}): OutboundMessagePayload {
  const caption = productCaption(p, opts);
  const replyOpts: ReplyOptions = opts.replyToWamid ? { replyToWamid: opts.replyToWamid } : {};
  return p.imageUrl ? imageMessage(to, { link: p.imageUrl, caption }, replyOpts) : textMessage(to, caption, replyOpts);
}

/** A row's description: price · stock · category, within Meta's 72 characters. */
function rowDescription(p: CatalogHit, currency: string): string {
  const parts = [formatPrice(p.price, p.currency || currency), p.stock === 0 ? 'Out of stock' : p.stock === null ? 'In stock' : `${p.stock} in stock`];
  if (p.category) parts.push(p.category);
  return truncateText(parts.join(' · '), LIMITS.listRowDescription);
}

/**
 * Several products: an interactive list (at most 10 rows, titles within 24 characters,
 * descriptions within 72), best first. Titles that would read the same after cutting keep the
 * model: "Yamaha P-45 Digital Piano" → "Yamaha P-45 Digital Pi…".
 */
export function productListMessage(to: string, hits: readonly CatalogHit[], opts: CatalogReplyOptions = {}): OutboundMessagePayload {
  const currency = opts.currency ?? 'KES';
  const rows = hits.slice(0, LIMITS.listRows).map((p) => ({
    id: `${PRODUCT_ROW_PREFIX}${p.id}`,
    title: truncateText(p.name, LIMITS.listRowTitle),
    description: rowDescription(p, currency),
  }));
  const intent = opts.intent ?? {};
  const body =
    opts.listBody ??
    (intent.cheapest
      ? 'Here are our most affordable matches, cheapest first. Tap one for the picture and details.'
      : intent.priceMax !== undefined
        ? `Here is what we have up to ${formatPrice(intent.priceMax, currency)}. Tap one for the picture and details.`
        : 'Here is what we have. Tap one for the picture and details.');
  const replyOpts: ReplyOptions = opts.replyToWamid ? { replyToWamid: opts.replyToWamid } : {};
  return interactiveListMessage(
    to,
    { body, button: 'View products', sections: [{ title: 'Products', rows }] },
    replyOpts,
  );
}

/**
 * The reply for a search result: one clear product → its picture; several → a list; none →
 * null (the caller goes on to the FAQ / LLM path, offering the closest products as grounding).
 */
export function catalogReply(
  to: string,
  result: { products: readonly CatalogHit[]; clear: boolean; intent?: CatalogIntent },
  opts: CatalogReplyOptions = {},
): OutboundMessagePayload | null {
  const first = result.products[0];
  if (!first) return null;
  const withIntent = { ...opts, intent: opts.intent ?? result.intent ?? {} };
  if (result.clear || result.products.length === 1) return productMessage(to, first, withIntent);
  return productListMessage(to, result.products, withIntent);
}

/** The product id of a list row / button id `product:<uuid>`, or null for any other id. */
export function parseProductRowId(id: string | undefined | null): string | null {
  if (!id || !id.startsWith(PRODUCT_ROW_PREFIX)) return null;
  const productId = id.slice(PRODUCT_ROW_PREFIX.length);
  return isUuid(productId) ? productId : null;
}

/** One product of the transaction's tenant by id (for a tap on a list row), or null. */
export async function productDetails(tx: Tx, productId: string): Promise<CatalogHit | null> {
  if (!isUuid(productId)) return null;
  const rows = await tx<
    {
      id: string;
      sku: string | null;
      name: string;
      description: string | null;
      category: string | null;
      brand: string | null;
      price: string | null;
      currency: string | null;
      stock: number | null;
      image_url: string | null;
      variants: { id: string; sku: string | null; name: string; price: number | null; stock: number | null }[] | null;
    }[]
  >`
    select p.id, p.sku, p.name, p.description, p.category, p.brand, p.price, p.currency, p.stock,
           coalesce(p.image_url, (select i.url from alphadome.bot_product_images i
                                   where i.product_id = p.id order by i.position limit 1)) as image_url,
           (select json_agg(json_build_object('id', v.id, 'sku', v.sku, 'name', v.name, 'price', v.price, 'stock', v.stock)
                            order by v.name)
              from alphadome.bot_product_variants v where v.product_id = p.id and v.is_active) as variants
      from alphadome.bot_products p
     where p.id = ${productId} and p.is_active`;
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    sku: r.sku,
    name: r.name,
    description: r.description,
    category: r.category,
    brand: r.brand,
    price: r.price === null ? null : Number(r.price),
    currency: r.currency ?? 'KES',
    stock: r.stock,
    imageUrl: r.image_url,
    score: 1,
    variants: (r.variants ?? []).map((v) => ({ ...v, price: v.price === null ? null : Number(v.price) })),
  };
}
