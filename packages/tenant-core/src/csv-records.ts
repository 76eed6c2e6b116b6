import { parse } from 'csv-parse/sync';
import { AppError } from './errors.ts';

/** An import-file problem, named by file and line: `faq.csv:3: answer is empty`. */
export const fileLineError = (file: string, line: number, problem: string): AppError =>
  new AppError('bad_request', `${file}:${line}: ${problem}`, { line });

export interface CsvRecord {
  fields: string[];
  /** the line of the file this record starts on (1-based), for error messages */
  line: number;
}

/**
 * Parse CSV text into records that know their starting line, so an import can name the line of
 * a bad row. A syntax error is reported the same way.
 */
export function readCsvRecords(text: string, file: string): CsvRecord[] {
  // csv-parse miscounts lines after a quoted CRLF; plain LF keeps `info.lines` exact
  const normalised = text.replace(/\r\n?/g, '\n');
  let records: { record: string[]; raw: string; info: { lines: number } }[];
  try {
    records = parse(normalised, {
      bom: true,
      info: true,
      raw: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
    }) as unknown as typeof records;
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    const message = (err as Error).message.replace(/ (at|on) line \d+\.?$/, '');
    throw fileLineError(file, line, `invalid CSV: ${message}`);
  }
  // info.lines is where a record ends; count back over the line breaks inside it
  return records.map((r) => {
    const body = r.raw.replace(/^\n+/, '').replace(/\n$/, '');
    return { fields: r.record, line: r.info.lines - (body.match(/\n/g)?.length ?? 0) };
  });
}
