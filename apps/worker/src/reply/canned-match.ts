import { foldWords, type CannedTemplate } from '@alphadome/tenant-core';

/**
 * The canned template whose trigger appears in the message as whole words (a phrase trigger
 * as consecutive words), case- and accent-insensitive: "hi" matches "Hi!" and "hi there" but
 * never "ship"; "saa ngapi" matches "Saa ngapi mnafungua?". The longest matching trigger wins
 * (more specific), ties go to the older template.
 */
export function matchCanned(text: string, templates: readonly CannedTemplate[]): { template: CannedTemplate; trigger: string } | null {
  const words = foldWords(text);
  if (words.length === 0) return null;
  let best: { template: CannedTemplate; trigger: string; size: number } | null = null;
  for (const template of templates) {
    for (const trigger of template.triggers) {
      const t = foldWords(trigger);
      if (t.length === 0) continue;
      if (best && t.length <= best.size) continue;
      if (containsSequence(words, t)) best = { template, trigger, size: t.length };
    }
  }
  return best ? { template: best.template, trigger: best.trigger } : null;
}

function containsSequence(words: readonly string[], seq: readonly string[]): boolean {
  outer: for (let i = 0; i + seq.length <= words.length; i++) {
    for (let j = 0; j < seq.length; j++) if (words[i + j] !== seq[j]) continue outer;
    return true;
  }
  return false;
}
