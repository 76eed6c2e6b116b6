/** Plain-text output helpers: aligned columns and short previews. */

export function table(rows: readonly (readonly string[])[], header?: readonly string[]): string[] {
  const all = header ? [header, ...rows] : rows;
  if (all.length === 0) return [];
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** Label/value pairs, labels padded. */
export function fields(pairs: readonly (readonly [string, string])[], indent = '  '): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`);
}

/** One line, at most `max` characters, quoted. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);

export const iso = (d: Date | null | undefined): string => (d ? d.toISOString() : '-');

export const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
