import type { Tx } from './db.ts';

export interface FaqCandidate {
  id: string;
  question: string;
  answer: string;
  /** 0..1: trigram similarity of the folded question and text, raised by full-text coverage */
  score: number;
  similarity: number;
  textRank: number;
}

export interface FaqSearchResult {
  candidates: FaqCandidate[];
  /** the top candidate answers the text on its own (safe to reply with it directly) */
  clear: boolean;
}

export interface FaqSearchOptions {
  limit?: number;
  /** top score needed for a clear match (default 0.55) */
  clearScore?: number;
  /** how far ahead of the runner-up a clear match must be (default 0.12) */
  clearMargin?: number;
}

// Filler words that should not pull FAQ entries into the candidates (English + Swahili).
const STOP = new Set(
  (
    'the and are you your for with this that what when where which who why how does did have has can could would ' +
    'should will not any all some about from into was were been its our out get got want need know tell please ' +
    'thanks thank hello there here just also only very much many more yes okay kindly sir madam dear habari tafadhali ' +
    'sasa naomba ni na ya wa kwa je'
  ).split(/\s+/),
);

/** Lower-case, accent-free words (the same folding as alphadome.fold in the database). */
export function foldWords(text: string): string[] {
  return (
    text
      .toLowerCase()
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/**
 * Search the transaction's tenant's FAQ (bot_training_data; RLS scopes it to the tenant) by
 * Postgres full-text search (any significant word, weighted to the question) and trigram
 * similarity of the question. Ranked best first; `clear` when the best one clearly matches
 * (a near-identical question, well ahead of the next).
 */
export async function searchFaq(tx: Tx, text: string, opts: FaqSearchOptions = {}): Promise<FaqSearchResult> {
  const limit = opts.limit ?? 5;
  const words = [...new Set(foldWords(text).filter((w) => w.length >= 3 && !STOP.has(w)))].slice(0, 32);
  const folded = foldWords(text).join(' ');
  if (folded === '') return { candidates: [], clear: false };
  // to_tsquery input built from letters/digits only, so no tsquery syntax can sneak in
  const tsq = words.length > 0 ? words.map((w) => `${w}:*`).join(' | ') : null;
  const rows = await tx<{ id: string; question: string; answer: string; similarity: number; text_rank: number; coverage: number }[]>`
    with q as (
      select ${folded}::text as f,
             case when ${tsq}::text is null then null else to_tsquery('simple', ${tsq}::text) end as tq
    )
    select d.id, d.question, d.answer,
           similarity(alphadome.fold(d.question), q.f)::float8 as similarity,
           coalesce(ts_rank(d.search, q.tq), 0)::float8 as text_rank,
           (select count(*) from unnest(${words}::text[]) w
             where alphadome.fold(d.question) ~ ('\\m' || w))::float8 as coverage
      from alphadome.bot_training_data d, q
     where d.is_active
       and ((q.tq is not null and d.search @@ q.tq) or alphadome.fold(d.question) % q.f)
     order by similarity desc, text_rank desc
     limit 50`;
  const nWords = Math.max(words.length, 1);
  const candidates: FaqCandidate[] = rows
    .map((r) => {
      // the share of the asked words found in the question lifts entries that are phrased differently
      const coverage = Math.min(1, r.coverage / nWords);
      const score = Math.max(r.similarity, 0.5 * r.similarity + 0.5 * coverage * Math.min(1, r.coverage / 2));
      return { id: r.id, question: r.question, answer: r.answer, score, similarity: r.similarity, textRank: r.text_rank };
    })
    .sort((a, b) => b.score - a.score || b.textRank - a.textRank)
    .slice(0, limit);
  const top = candidates[0];
  const second = candidates[1];
  const clear =
    top !== undefined &&
    top.score >= (opts.clearScore ?? 0.55) &&
    (second === undefined || top.score - second.score >= (opts.clearMargin ?? 0.12));
  return { candidates, clear };
}

/** Active FAQ entries of the transaction's tenant, newest first (grounding when search finds little). */
export async function listFaqForGrounding(tx: Tx, limit = 8): Promise<{ id: string; question: string; answer: string }[]> {
  const rows = await tx<{ id: string; question: string; answer: string }[]>`
    select id, question, answer from alphadome.bot_training_data
     where is_active order by updated_at desc limit ${limit}`;
  return rows.map((r) => ({ ...r }));
}
