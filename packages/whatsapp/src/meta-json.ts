/**
 * Serialises like Meta does for webhook bodies: compact JSON, every non-ASCII UTF-16 unit as a
 * lower-case `\uXXXX` escape (an emoji becomes a surrogate pair `\ud83d\ude00`), `/` as `\/`
 * and `@` as `\u0040`. Meta signs those exact bytes, which is why a re-serialised body
 * (`JSON.stringify(JSON.parse(raw))`) no longer matches `X-Hub-Signature-256`.
 *
 * Outside strings JSON.stringify emits only ASCII punctuation, digits and literals, so every
 * character replaced here is inside a string.
 */
export function toMetaJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value is not JSON-serialisable');
  return json.replace(/[\u0080-\uffff@/]/g, (ch) => {
    if (ch === '/') return '\\/';
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
