import { foldWords } from '@alphadome/tenant-core';

/**
 * Keyword and phrase matching for the conversation controls. Words are folded (lower case,
 * no accents) and compared whole: "agent" matches "an agent please" but not "agents'"… and
 * "stop" never matches "bus stop near you?" because opt-out needs the keyword alone.
 */
function containsSequence(words: readonly string[], seq: readonly string[]): boolean {
  if (seq.length === 0) return false;
  outer: for (let i = 0; i + seq.length <= words.length; i++) {
    for (let j = 0; j < seq.length; j++) if (words[i + j] !== seq[j]) continue outer;
    return true;
  }
  return false;
}

/** The message contains one of the phrases as consecutive whole words. */
export function containsPhrase(text: string, phrases: readonly string[]): string | null {
  const words = foldWords(text);
  for (const p of phrases) if (containsSequence(words, foldWords(p))) return p;
  return null;
}

/**
 * The message is just the keyword (with at most a polite word around it: "STOP please",
 * "stop!!", "Acha tafadhali"): a command, not a sentence that happens to contain it.
 */
export function isCommand(text: string, keywords: readonly string[]): boolean {
  const filler = new Set(['please', 'pls', 'plz', 'tafadhali', 'now', 'sasa', 'all', 'me']);
  const words = foldWords(text).filter((w) => !filler.has(w));
  if (words.length === 0) return false;
  return keywords.some((k) => {
    const kw = foldWords(k);
    return kw.length === words.length && kw.every((w, i) => w === words[i]);
  });
}
