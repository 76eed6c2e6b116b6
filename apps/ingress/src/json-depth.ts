/**
 * Meta's webhook bodies nest about 8 levels deep. A signed body nesting far deeper is not a
 * webhook we can store: JSON.stringify (job data, the hand-off entry) overflows the stack on
 * it. Refuse it up front, from the raw bytes, before JSON.parse builds it.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** True when the JSON text nests objects/arrays deeper than `max` (strings are skipped). */
export function nestsDeeperThan(raw: Uint8Array, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw[i];
    if (c === QUOTE) {
      // Skip the string in one native search per quote (most of a webhook's bytes are string
      // contents): its end is the next quote not escaped, i.e. not preceded by an odd number
      // of backslashes (the opening quote stops the backward count).
      let j = i;
      for (;;) {
        j = raw.indexOf(QUOTE, j + 1);
        if (j < 0) return false; // unterminated: not JSON, and nothing after it nests
        let backslashes = 0;
        for (let k = j - 1; raw[k] === BACKSLASH; k--) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
      i = j;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
