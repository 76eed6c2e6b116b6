import type postgres from 'postgres';
import { isUuid, type Tx } from '../db.ts';
import { AppError } from '../errors.ts';
import { describeZodError, faqInputSchema, faqPatchSchema, type FaqInput, type FaqPatch, type FaqRecord } from '../schemas.ts';

/** An FAQ entry (alphadome.bot_training_data). */
export interface Faq {
  id: string;
  tenantId: string;
  question: string;
  answer: string;
  language: string;
  tags: string[];
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  tenant_id: string;
  question: string;
  answer: string;
  language: string;
  tags: string[];
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

const toFaq = (r: Row): Faq => ({
  id: r.id,
  tenantId: r.tenant_id,
  question: r.question,
  answer: r.answer,
  language: r.language,
  tags: r.tags,
  isActive: r.is_active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const selectList = (tx: Tx) => tx`id, tenant_id, question, answer, language, tags, is_active, created_at, updated_at`;

export async function addFaq(tx: Tx, tenantId: string, input: FaqInput): Promise<Faq> {
  const f = faqInputSchema.parse(input);
  const rows = await tx<Row[]>`
    insert into alphadome.bot_training_data (tenant_id, question, answer, language, tags, is_active)
    values (${tenantId}, ${f.question}, ${f.answer}, ${f.language}, ${f.tags}::text[], ${f.isActive})
    returning ${selectList(tx)}`;
  return toFaq(rows[0]!);
}

export async function listFaqs(
  tx: Tx,
  tenantId: string,
  opts: { language?: string; activeOnly?: boolean; limit?: number; offset?: number } = {},
): Promise<Faq[]> {
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 10_000);
  const rows = await tx<Row[]>`
    select ${selectList(tx)} from alphadome.bot_training_data
     where tenant_id = ${tenantId}
       ${opts.language ? tx`and language = ${opts.language}` : tx``}
       ${opts.activeOnly ? tx`and is_active` : tx``}
     order by created_at, language, question, id
     limit ${limit} offset ${Math.max(opts.offset ?? 0, 0)}`;
  return rows.map(toFaq);
}

export async function countFaqs(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx<{ n: string }[]>`select count(*) as n from alphadome.bot_training_data where tenant_id = ${tenantId}`;
  return Number(row?.n ?? 0);
}

export async function getFaq(tx: Tx, tenantId: string, id: string): Promise<Faq | null> {
  if (!isUuid(id)) return null;
  const rows = await tx<Row[]>`select ${selectList(tx)} from alphadome.bot_training_data where tenant_id = ${tenantId} and id = ${id}`;
  return rows[0] ? toFaq(rows[0]) : null;
}

export async function updateFaq(tx: Tx, tenantId: string, id: string, patch: FaqPatch): Promise<Faq> {
  const p = faqPatchSchema.parse(patch);
  const row: Record<string, unknown> = {};
  if (p.question !== undefined) row.question = p.question;
  if (p.answer !== undefined) row.answer = p.answer;
  if (p.language !== undefined) row.language = p.language;
  if (p.tags !== undefined) row.tags = p.tags;
  if (p.isActive !== undefined) row.is_active = p.isActive;
  const notFound = () => new AppError('not_found', `FAQ ${id} not found`);
  if (!isUuid(id)) throw notFound();
  if (Object.keys(row).length === 0) {
    const f = await getFaq(tx, tenantId, id);
    if (!f) throw notFound();
    return f;
  }
  const rows = await tx<Row[]>`
    update alphadome.bot_training_data set ${tx(row as Record<string, never>, Object.keys(row) as never[])}
     where tenant_id = ${tenantId} and id = ${id} returning ${selectList(tx)}`;
  if (!rows[0]) throw notFound();
  return toFaq(rows[0]);
}

export async function deleteFaq(tx: Tx, tenantId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await tx`delete from alphadome.bot_training_data where tenant_id = ${tenantId} and id = ${id} returning id`;
  return rows.length > 0;
}

export interface FaqImportResult {
  inserted: number;
  updated: number;
  deleted: number;
}

/**
 * Import many FAQ entries in the caller's transaction (withTenant is one transaction, so a
 * failure anywhere leaves the tenant's FAQ as it was). Every row is validated before any is
 * written. An entry whose question (case-insensitive) and language match an existing one
 * replaces its answer, so importing the same file twice changes nothing; within the input the
 * last of duplicate questions wins. `replace` deletes the tenant's other entries first.
 */
export async function importFaqs(
  tx: Tx,
  tenantId: string,
  input: readonly FaqInput[],
  opts: { replace?: boolean } = {},
): Promise<FaqImportResult> {
  const valid: FaqRecord[] = [];
  input.forEach((item, i) => {
    const parsed = faqInputSchema.safeParse(item);
    if (!parsed.success) {
      throw new AppError('bad_request', `row ${i + 1}: ${describeZodError(parsed.error)}`, { row: i + 1 });
    }
    valid.push(parsed.data);
  });
  const byKey = new Map<string, FaqRecord>();
  for (const f of valid) byKey.set(`${f.language}\n${f.question.toLowerCase()}`, f);
  const rows = [...byKey.values()].map((f, ord) => ({
    ord,
    question: f.question,
    answer: f.answer,
    language: f.language,
    tags: f.tags,
    is_active: f.isActive,
  }));

  let deleted = 0;
  if (opts.replace) {
    deleted = (await tx`delete from alphadome.bot_training_data where tenant_id = ${tenantId} returning id`).length;
  }
  if (rows.length === 0) return { inserted: 0, updated: 0, deleted };
  const [counts] = await tx<{ inserted: string; updated: string }[]>`
    with input as (
      select * from jsonb_to_recordset(${tx.json(rows as unknown as postgres.JSONValue)}::jsonb)
        as x(ord int, question text, answer text, language text, tags text[], is_active boolean)
    ),
    updated as (
      update alphadome.bot_training_data t
         set question = i.question, answer = i.answer, tags = i.tags, is_active = i.is_active
        from input i
       where t.tenant_id = ${tenantId} and t.language = i.language and lower(t.question) = lower(i.question)
      returning i.ord
    ),
    inserted as (
      insert into alphadome.bot_training_data (tenant_id, question, answer, language, tags, is_active)
      select ${tenantId}, i.question, i.answer, i.language, i.tags, i.is_active
        from input i where i.ord not in (select ord from updated)
       order by i.ord
      returning id
    )
    select (select count(*) from inserted) as inserted, (select count(distinct ord) from updated) as updated`;
  return { inserted: Number(counts?.inserted ?? 0), updated: Number(counts?.updated ?? 0), deleted };
}
