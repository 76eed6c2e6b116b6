import { AppError } from './errors.ts';
import { fileLineError, readCsvRecords } from './csv-records.ts';
import { faqInputSchema, type FaqRecord } from './schemas.ts';

/**
 * FAQ import files: CSV with a header `question,answer[,language]`, or JSON, an array of
 * `{question, answer, language?}`. Every row is checked before anything is stored, and the
 * first problem is reported as `FILE:LINE: problem` so it can be fixed in an editor.
 */
export const MAX_FAQ_IMPORT_ROWS = 10_000;

export function parseFaqFile(text: string, fileName: string): FaqRecord[] {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return parseFaqCsv(text, fileName);
  if (lower.endsWith('.json')) return parseFaqJson(text, fileName);
  throw new AppError('bad_request', `${fileName}: unknown file type; use a .csv or .json file`);
}

const bad = fileLineError;

function checkRow(file: string, line: number, raw: Record<string, unknown>): FaqRecord {
  const parsed = faqInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.');
    // the schema's messages already name question/answer; prefix other fields
    const msg = /^(question|answer)\b/.test(issue.message) || !field ? issue.message : `${field} ${issue.message}`;
    throw bad(file, line, msg);
  }
  return parsed.data;
}

function parseFaqCsv(text: string, file: string): FaqRecord[] {
  const records = readCsvRecords(text, file);
  const header = records[0];
  if (!header) throw new AppError('bad_request', `${file}: the file is empty; expected a header question,answer[,language]`);
  const columns = header.fields.map((c) => c.toLowerCase());
  const headerLine = header.line;
  for (const required of ['question', 'answer']) {
    if (!columns.includes(required)) {
      throw bad(file, headerLine, `the header must name the columns question,answer[,language]; "${required}" is missing`);
    }
  }
  const known = new Set(['question', 'answer', 'language']);
  for (const c of columns) {
    if (!known.has(c)) throw bad(file, headerLine, `unknown column "${c}"; expected question,answer[,language]`);
  }
  if (new Set(columns).size !== columns.length) throw bad(file, headerLine, 'a column is named twice');

  const rows = records.slice(1);
  if (rows.length === 0) throw new AppError('bad_request', `${file}: no FAQ rows after the header`);
  if (rows.length > MAX_FAQ_IMPORT_ROWS) throw new AppError('bad_request', `${file}: more than ${MAX_FAQ_IMPORT_ROWS} rows; split the file`);
  return rows.map((r) => {
    const line = r.line;
    if (r.fields.length !== columns.length) {
      throw bad(file, line, `expected ${columns.length} fields (${columns.join(',')}), got ${r.fields.length}`);
    }
    const raw: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const v = r.fields[i] ?? '';
      // an empty language cell means the default
      if (!(c === 'language' && v === '')) raw[c] = v;
    });
    return checkRow(file, line, raw);
  });
}

function parseFaqJson(text: string, file: string): FaqRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const line = m ? lineAt(text, Number(m[1])) : 1;
    throw bad(file, line, `invalid JSON: ${(err as Error).message.replace(/^Unexpected/, 'unexpected')}`);
  }
  if (!Array.isArray(data)) throw bad(file, 1, 'expected a JSON array of {"question", "answer", "language"?} objects');
  if (data.length === 0) throw new AppError('bad_request', `${file}: the array is empty`);
  if (data.length > MAX_FAQ_IMPORT_ROWS) throw new AppError('bad_request', `${file}: more than ${MAX_FAQ_IMPORT_ROWS} rows; split the file`);
  const lines = topLevelElementLines(text);
  return data.map((item: unknown, i) => {
    const line = lines[i] ?? 1;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw bad(file, line, 'each element must be an object with "question" and "answer"');
    }
    const obj = item as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (!['question', 'answer', 'language', 'tags'].includes(key)) throw bad(file, line, `unknown field "${key}"`);
    }
    for (const key of ['question', 'answer'] as const) {
      if (obj[key] === undefined) throw bad(file, line, `${key} is missing`);
    }
    for (const key of ['question', 'answer', 'language'] as const) {
      if (obj[key] !== undefined && typeof obj[key] !== 'string') throw bad(file, line, `${key} must be a string`);
    }
    return checkRow(file, line, obj);
  });
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
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') continue;
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
