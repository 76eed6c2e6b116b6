import {
  analyseCatalogQuery,
  catalogReply,
  foldText,
  formatPrice,
  formatStock,
  parseProductRowId,
  productDetails,
  productMessage,
  searchCatalog,
  withTenantOneTrip,
  type CatalogHit,
  type CatalogSearchResult,
  type Sql,
  type TenantContext,
  type TenantContextCache,
} from '@alphadome/tenant-core';
import { LIMITS, truncateText, type OutboundMessagePayload } from '@alphadome/whatsapp';

/**
 * The catalog step of the reply path (issue 8): a product question answered in WhatsApp's own
 * forms (one product → its picture with a caption; several → a list whose rows can be tapped;
 * a tap → that product), and, when nothing matches, the closest products as LLM grounding.
 * Search results are memoised per tenant in the context cache (dropped when the tenant
 * changes: the CLI and dashboard announce catalog edits).
 */

export interface CatalogAnswer {
  payload: OutboundMessagePayload;
  /** what the message says, as text (stored as the outbound row's body; the history the LLM sees) */
  body: string;
  /** the products only match some of the words: a clear FAQ answer wins over them */
  partial: boolean;
  productIds: string[];
}

export interface CatalogDeps {
  sql: Sql;
  contexts: TenantContextCache;
}

/** How the memo keys a question: folded, spaces collapsed (so "Guitars?" and "guitars ?" share). */
export function catalogKey(text: string): string {
  return foldText(text).replace(/[^\p{L}\p{N}<>=,./-]+/gu, ' ').trim().slice(0, 300);
}

/** The tenant's catalog searched for the text (memoised per tenant; ≤ 10 products, a list's rows). */
export function searchCatalogCached(deps: CatalogDeps, tenantId: string, text: string): Promise<CatalogSearchResult> {
  const key = catalogKey(text);
  return deps.contexts.memo(tenantId, `catalog:${key}`, () => withTenantOneTrip(deps.sql, tenantId, (tx) => searchCatalog(tx, text)));
}

/** The reply for a product question, or null when the catalog has nothing for it. */
export async function catalogAnswer(
  deps: CatalogDeps,
  ctx: TenantContext,
  to: string,
  text: string,
  replyToWamid: string | undefined,
): Promise<CatalogAnswer | null> {
  const result = await searchCatalogCached(deps, ctx.tenantId, text);
  const payload = catalogReply(to, result, { currency: ctx.currency, ...(replyToWamid ? { replyToWamid } : {}) });
  if (!payload) return null;
  return { payload, body: payloadText(payload), partial: result.partial, productIds: result.products.map((p) => p.id) };
}

/**
 * A tap on a catalog list row (`product:<uuid>`): that product's picture and details. Null when
 * the id is no product of this tenant (another tenant's id finds nothing: row level security).
 */
export async function productTapAnswer(
  deps: CatalogDeps,
  ctx: TenantContext,
  to: string,
  tappedId: string | null,
  replyToWamid: string | undefined,
): Promise<CatalogAnswer | null> {
  const productId = parseProductRowId(tappedId);
  if (!productId) return null;
  const product = await withTenantOneTrip(deps.sql, ctx.tenantId, (tx) => productDetails(tx, productId));
  if (!product) return null;
  const payload = productMessage(to, product, { currency: ctx.currency, ...(replyToWamid ? { replyToWamid } : {}) });
  return { payload, body: payloadText(payload), partial: false, productIds: [product.id] };
}

/**
 * The closest products when the search proper found none (a price limit nothing meets, or only
 * some of the words name products): each word searched alone, without the price limit; products
 * more words found first. For the LLM's grounding, at most `limit`.
 */
export async function closestProducts(deps: CatalogDeps, tenantId: string, text: string, limit = 5): Promise<CatalogHit[]> {
  const { terms } = analyseCatalogQuery(text);
  if (terms.length === 0) return [];
  const words = terms.slice(0, 4);
  const found = new Map<string, { hit: CatalogHit; words: number; best: number }>();
  for (const w of words) {
    const r = await searchCatalogCached(deps, tenantId, w);
    r.products.slice(0, limit).forEach((hit, rank) => {
      const seen = found.get(hit.id);
      if (seen) {
        seen.words++;
        seen.best = Math.min(seen.best, rank);
      } else found.set(hit.id, { hit, words: 1, best: rank });
    });
  }
  return [...found.values()]
    .sort((a, b) => b.words - a.words || a.best - b.best)
    .slice(0, limit)
    .map((x) => x.hit);
}

/** One line of product grounding: name | price | stock | category (no links, no ids). */
export function productGroundingLine(p: CatalogHit, currency: string): string {
  const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
  const parts = [oneLine(p.name), formatPrice(p.price, p.currency || currency), formatStock(p.stock)];
  if (p.category) parts.push(oneLine(p.category));
  const variants = p.variants.slice(0, 4).map((v) => `${oneLine(v.name)} ${formatPrice(v.price ?? p.price, p.currency || currency)}${v.stock === 0 ? ' (out of stock)' : ''}`);
  if (variants.length > 0) parts.push(`options: ${variants.join(', ')}`);
  return truncateText(parts.join(' | '), 300);
}

/** What a payload says, as text: the caption, the text body, or a list's body and rows. */
export function payloadText(payload: OutboundMessagePayload): string {
  switch (payload.type) {
    case 'text':
      return payload.text.body;
    case 'image':
      return payload.image.caption ?? '';
    case 'interactive': {
      const i = payload.interactive;
      const lines = [i.body.text];
      if (i.type === 'list') {
        for (const s of i.action.sections) for (const r of s.rows) lines.push(`• ${r.title}${r.description ? ` (${r.description})` : ''}`);
      } else {
        for (const b of i.action.buttons) lines.push(`• ${b.reply.title}`);
      }
      return lines.join('\n');
    }
    default:
      return '';
  }
}

/** The same message with a text before what it says (the away message outside business hours). */
export function prependText(payload: OutboundMessagePayload, text: string): OutboundMessagePayload {
  const join = (rest: string | undefined) => (rest ? `${text}\n\n${rest}` : text);
  switch (payload.type) {
    case 'text':
      return { ...payload, text: { ...payload.text, body: truncateText(join(payload.text.body), LIMITS.textBody) } };
    case 'image':
      return { ...payload, image: { ...payload.image, caption: truncateText(join(payload.image.caption), LIMITS.mediaCaption) } };
    case 'interactive':
      return {
        ...payload,
        interactive: { ...payload.interactive, body: { text: truncateText(join(payload.interactive.body.text), LIMITS.listBody) } },
      } as OutboundMessagePayload;
    default:
      return payload;
  }
}
