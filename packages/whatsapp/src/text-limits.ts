/**
 * Meta counts its text limits in characters. We count Unicode code points (not UTF-16 units,
 * which would count an emoji twice) and cut only between grapheme clusters, so a truncated
 * title never ends in half an emoji, a lone surrogate, a dangling ZWJ or half a flag.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export const ELLIPSIS = '…';

/** Length in Unicode code points. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * `s` if it has at most `max` code points; otherwise the longest prefix of whole graphemes that
 * leaves room for `ellipsis`, followed by it. The result never exceeds `max` code points.
 */
export function truncateText(s: string, max: number, ellipsis: string = ELLIPSIS): string {
  if (max <= 0) return '';
  // Fast path: UTF-16 length is an upper bound of the code point count.
  if (s.length <= max) return s;
  if (codePointLength(s) <= max) return s;
  const room = max - codePointLength(ellipsis);
  if (room < 0) return Array.from(s).slice(0, max).join('');
  let out = '';
  let used = 0;
  for (const { segment } of segmenter.segment(s)) {
    const len = codePointLength(segment);
    if (used + len > room) {
      // A single grapheme longer than the whole room (pathological combining run): cut by
      // code points instead of returning nothing.
      if (used === 0) out = Array.from(segment).slice(0, room).join('');
      break;
    }
    out += segment;
    used += len;
  }
  // "Bass guitar …" reads worse than "Bass guitar…".
  return out.trimEnd() + ellipsis;
}
