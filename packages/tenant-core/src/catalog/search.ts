import type { Tx } from '../db.ts';

/**
 * Catalog search as customers write: "do you have guitars?", "gitar", "cheapest keyboard",
 * "guitars under 20k", "is the Yamaha P-45 available", "bei ya gitaa", "una piano?".
 *
 * The query side (here, pure): fold (lower-case, accent-free), pull out price phrases and
 * intents, close up model numbers ("P-45", "p 45" → p45), drop stop words (English and
 * Swahili), map Swahili / informal words to the catalog's words, strip plurals. The database
 * side (alphadome.catalog_search, migration 0007): corrects words no product has by trigram
 * similarity, then one full-text query over the GIN index with an optional price filter/order.
 */

export interface CatalogHit {
  id: string;
  sku: string | null;
  name: string;
  description: string | null;
  category: string | null;
  brand: string | null;
  price: number | null;
  currency: string;
  /** null: not counted (treated as available) */
  stock: number | null;
  imageUrl: string | null;
  score: number;
  variants: CatalogVariantSummary[];
}

export interface CatalogVariantSummary {
  id: string;
  sku: string | null;
  name: string;
  price: number | null;
  stock: number | null;
}

export interface CatalogIntent {
  priceMax?: number;
  priceMin?: number;
  cheapest?: boolean;
  mostExpensive?: boolean;
  stockQuestion?: boolean;
  priceQuestion?: boolean;
}

export interface CatalogSearchResult {
  products: CatalogHit[];
  intent: CatalogIntent;
  /** exactly one product clearly ahead (or the one asked for by "cheapest …"): answer with it alone */
  clear: boolean;
  /**
   * only some of the words name products ("do you repair guitars": no product says "repair"),
   * so the question may be about something else: a clear FAQ answer should win over these
   */
  partial: boolean;
  /** the words searched for, after correction by the database ("gitar" → "guitar") */
  terms: string[];
}

export interface CatalogQuery {
  terms: string[];
  intent: CatalogIntent;
}

// Words that say nothing about which product (English, Swahili, chat shorthand).
const STOP_WORDS = new Set(
  (
    'a an the is are was were be been am do does did done you your yours u ur ya have has had having got get gets ' +
    'any some i im ive me my mine we our us they them it its this that these those there here what whats which who ' +
    'how much many can could would should will shall may might must want wanna need needs needed looking look see ' +
    'find for buy buying purchase order sell sells selling sold of in on at to from with by about into as and or but ' +
    'also too just only still please pls plz kindly hi hello hey hallo dear sir madam boss bro good morning ' +
    'afternoon evening day thanks thank asante price prices pricing cost costs costing worth pay charge ' +
    'available availability avail stock stocks instock left remaining store shop currently now today ' +
    'one ones show tell give send share know check like interested enquire inquire ask asking question ' +
    'if so not no yes ok okay sure kindly via per each item items product products thing things stuff ' +
    'cheap cheaper cheapest lowest low affordable budget least expensive priciest highest costly most ' +
    // Swahili
    'una unayo mna mnayo nina ninayo nataka ninataka tunataka naomba ningependa nipe tafadhali bei ya la za wa kwa ' +
    'na ni je iko ipo ziko zipo kuna kipo kiko vipo viko gani ngapi pesa shilingi hii hiyo hizo hizi huu mimi sisi ' +
    'nini kama pia yoyote nunua kununua uza kuuza mnauza unauza nauliza swali habari sasa hujambo jambo mambo ' +
    'niaje bado tena vipi nafuu rahisi ghali zaidi sana kabisa duka dukani stoo mzigo ama au hapo hapa mko ' +
    'karibu nzuri poa sawa'
  ).split(/\s+/),
);

// Swahili and informal words → the catalog's words (already stemmed).
const SYNONYMS: Record<string, string> = {
  gitaa: 'guitar',
  gita: 'guitar',
  gitaaa: 'guitar',
  kinanda: 'keyboard',
  vinanda: 'keyboard',
  ngoma: 'drum',
  drumset: 'drum',
  drumkit: 'drum',
  maikrofoni: 'microphone',
  mikrofoni: 'microphone',
  mikrofon: 'microphone',
  maikrofon: 'microphone',
  maiki: 'microphone',
  mike: 'microphone',
  kipaza: 'microphone',
  spika: 'speaker',
  amplifaya: 'amplifier',
  nyuzi: 'string',
  uzi: 'string',
  waya: 'cable',
  kebo: 'cable',
  fidla: 'violin',
  zeze: 'violin',
  filimbi: 'recorder',
  saksafoni: 'saxophone',
  uke: 'ukulele',
  ukelele: 'ukulele',
  kiti: 'throne',
  stendi: 'stand',
  pedali: 'pedal',
};
// words that only complete a phrase whose other word carries the meaning ("kipaza sauti")
const PHRASE_TAILS = new Set(['sauti']);

const CHEAP_WORDS = /\b(cheap|cheaper|cheapest|lowest|least expensive|affordable|budget|nafuu|rahisi)\b/;
const DEAR_WORDS = /\b(most expensive|priciest|highest price|top of the range|ghali)\b/;
const STOCK_WORDS = /\b(available|availability|avail|in stock|stock|instock|left|iko|ipo|ziko|zipo|kipo|kiko|vipo|viko|mnayo|unayo|imeisha|zimeisha|bado)\b/;
const PRICE_WORDS = /\b(price|prices|pricing|cost|costs|how much|bei|ngapi|pesa|shillings?|kes|ksh)\b/;

const NUMBER = String.raw`(?:kes|kshs?|sh)?\.?\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k\b|m\b|thousand\b|elfu\b|bob\b|\/=|\/-)?`;
const ELFU = String.raw`elfu\s+(\d+(?:\.\d+)?)`; // "elfu 20" = 20 thousand
const AMOUNT = `(?:${ELFU}|${NUMBER})`;
const MAX_WORDS = String.raw`under|below|less than|cheaper than|up to|upto|max(?:imum)?|not more than|no more than|within|at most|chini ya|isiyozidi|haizidi|hadi|mpaka|<=?`;
const MIN_WORDS = String.raw`over|above|more than|at least|from|starting at|zaidi ya|juu ya|kuanzia|>=?`;

function amount(m: RegExpExecArray, at: number): number | undefined {
  const elfu = m[at];
  if (elfu !== undefined) return Number(elfu) * 1000;
  const digits = m[at + 1];
  if (digits === undefined) return undefined;
  let v = Number(digits.replace(/,/g, ''));
  const unit = m[at + 2]?.trim();
  if (unit === 'k' || unit === 'thousand' || unit === 'elfu') v *= 1000;
  else if (unit === 'm') v *= 1_000_000;
  return Number.isFinite(v) ? v : undefined;
}

/** Lower-case, accent-free (the same folding as alphadome.fold in the database). */
export function foldText(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
}

/** Crude plural stemming, mirrored by alphadome.catalog_stem; the database matches stems as prefixes. */
export function stemWord(w: string): string {
  if (w.length <= 3 || /\d/.test(w) || /(ss|us|is)$/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) return w.slice(0, -3);
  if (/(x|ch|sh|ss)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s')) return w.slice(0, -1);
  return w;
}

/** Words and intent of a customer's message (pure; exported for tests and the LLM grounding). */
export function analyseCatalogQuery(text: string): CatalogQuery {
  let s = ` ${foldText(text).slice(0, 500)} `;
  const intent: CatalogIntent = {};
  const cut = (re: RegExp, fn: (m: RegExpExecArray) => void) => {
    s = s.replace(re, (...args) => {
      fn(args as unknown as RegExpExecArray);
      return ' ';
    });
  };

  // price ranges and limits; the matched words leave the text so "20000" is not searched for
  cut(new RegExp(String.raw`\b(?:between|kati ya)\s+${AMOUNT}\s+(?:and|na|to|-)\s+${AMOUNT}`, 'g'), (m) => {
    const a = amount(m, 1);
    const b = amount(m, 4);
    if (a !== undefined && b !== undefined) {
      intent.priceMin = Math.min(a, b);
      intent.priceMax = Math.max(a, b);
    }
  });
  cut(new RegExp(String.raw`(?:\b|(?=[<>]))(?:${MAX_WORDS})\s*(?:of\s+|ya\s+)?${AMOUNT}`, 'g'), (m) => {
    const v = amount(m, 1);
    if (v !== undefined) intent.priceMax = v;
  });
  cut(new RegExp(String.raw`(?:\b|(?=[<>]))(?:${MIN_WORDS})\s*(?:of\s+|ya\s+)?${AMOUNT}`, 'g'), (m) => {
    const v = amount(m, 1);
    if (v !== undefined) intent.priceMin = v;
  });
  // "budget 20k", "20k budget", "20k or less"
  cut(new RegExp(String.raw`\b${AMOUNT}\s+(?:or less|and below|max|budget)\b`, 'g'), (m) => {
    const v = amount(m, 1);
    if (v !== undefined) intent.priceMax = v;
  });
  cut(new RegExp(String.raw`\bbudget\s+(?:is\s+|of\s+)?${AMOUNT}`, 'g'), (m) => {
    const v = amount(m, 1);
    if (v !== undefined) intent.priceMax = v;
  });
  // amounts written with a currency or a k/thousand suffix are prices, not model numbers
  cut(new RegExp(String.raw`\b(?:(?:kes|kshs?)\.?\s*(\d{1,3}(?:,\d{3})+|\d+)|(\d+)\s*(?:k|thousand|bob)\b|(\d{1,3}(?:,\d{3})+))`, 'g'), () => {});

  if (DEAR_WORDS.test(s)) intent.mostExpensive = true;
  else if (CHEAP_WORDS.test(s)) intent.cheapest = true;
  if (STOCK_WORDS.test(s)) intent.stockQuestion = true;
  if (PRICE_WORDS.test(s)) intent.priceQuestion = true;

  // close up model numbers: "p-45" / "p 45" / "cd-60s" → "p45" / "cd60s"; "hi-hat" → "hihat"
  s = s.replace(/([\p{L}\p{N}])[-/.](?=[\p{L}\p{N}])/gu, '$1');
  s = s.replace(/\b([a-z]{1,3})\s+(\d{1,4}[a-z]{0,2})\b/g, (all, letters: string, digits: string) =>
    STOP_WORDS.has(letters) ? all : `${letters}${digits}`,
  );

  const words = s.match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms: string[] = [];
  for (const raw of words) {
    if (STOP_WORDS.has(raw) || PHRASE_TAILS.has(raw)) continue;
    const synonym = SYNONYMS[raw];
    const w = synonym ?? stemWord(raw);
    if (w.length < 2 && !/\d/.test(w)) continue;
    if (/^\d+$/.test(w) && w.length > 6) continue; // a phone number, an order number: not a product
    if (!terms.includes(w)) terms.push(w);
  }
  return { terms: terms.slice(0, 8), intent };
}

interface SearchRow {
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
  score: number;
  matched: number;
  resolved_terms: string[];
  strict: boolean;
  variants: { id: string; sku: string | null; name: string; price: number | null; stock: number | null }[] | null;
}

/**
 * Search the transaction's tenant's catalog (call inside withTenant). Best first, at most
 * `limit` (default 10, the rows of a WhatsApp list).
 */
export async function searchCatalog(tx: Tx, query: string, opts: { limit?: number } = {}): Promise<CatalogSearchResult> {
  const limit = Math.min(Math.max(opts.limit ?? 10, 1), 50);
  const { terms, intent } = analyseCatalogQuery(query);
  if (terms.length === 0) return { products: [], intent, clear: false, partial: false, terms: [] };
  const order = intent.cheapest ? 'price_asc' : intent.mostExpensive ? 'price_desc' : 'relevance';
  const rows = await tx<SearchRow[]>`
    select p.id, p.sku, p.name, p.description, p.category, p.brand, p.price, p.currency, p.stock, p.image_url,
           s.score, s.matched, s.resolved_terms, s.strict,
           (select json_agg(json_build_object('id', v.id, 'sku', v.sku, 'name', v.name, 'price', v.price, 'stock', v.stock)
                            order by v.name)
              from alphadome.bot_product_variants v where v.product_id = p.id and v.is_active) as variants
      from alphadome.catalog_search(${terms}::text[], ${intent.priceMin ?? null}::numeric, ${intent.priceMax ?? null}::numeric,
                                    ${order}, ${limit}) s
      join alphadome.bot_products p on p.id = s.product_id
     order by s.ord`;
  const products: CatalogHit[] = rows.map((r) => ({
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
    score: r.score,
    variants: (r.variants ?? []).map((v) => ({ ...v, price: v.price === null ? null : Number(v.price) })),
  }));
  const first = rows[0];
  const top = products[0];
  const second = products[1];
  let clear = false;
  if (first && top && first.strict) {
    if (order !== 'relevance') clear = true; // "the cheapest keyboard" is one product
    else if (!second) clear = true;
    else clear = top.score >= second.score * 1.5 && top.score - second.score >= 0.3;
  }
  return { products, intent, clear, partial: first ? !first.strict || first.resolved_terms.length < terms.length : false, terms: first?.resolved_terms ?? [] };
}
