import { foldWords } from '@alphadome/tenant-core';

/**
 * A small word-list heuristic for the languages Kenyan customers write in: English, Swahili,
 * or a mix of both (Sheng and code-switching are common). Good enough to pick a reply
 * language; the LLM is told which one.
 */
export type Language = 'en' | 'sw' | 'mixed';

const SW = new Set(
  (
    'habari mambo sasa niaje vipi asante asanteni sana karibu tafadhali naomba nataka ninataka nina una ana tuna mna wana ' +
    'je ni na ya wa za la kwa kwenye katika hii hiyo huu hapa pale bei gani ngapi kiasi shilingi pesa lini wapi nini nani ' +
    'kwa nini ndio ndiyo hapana sawa poa bado tayari leo kesho jana saa asubuhi mchana jioni usiku wiki mwezi duka ' +
    'mnauza mnafungua mnafunga mko uko yuko tuko kuna hakuna nipe niletee nitumie tuma leta nunua kununua kuuza bidhaa ' +
    'gitaa piano ngoma rafiki ndugu mimi wewe yeye sisi nyinyi wao changu chako yangu yako yetu yenu mzuri nzuri vizuri ' +
    'samahani naweza unaweza mnaweza tunaweza sijui nakuomba kuongea mtu mhudumu acha sitaki lakini pia au kama tu kila'
  ).split(/\s+/),
);
const EN = new Set(
  (
    'the a an is are was were be been do does did have has had i you he she we they it my your our their me us them ' +
    'what when where which who why how can could would should will shall may might must please thanks thank hello hi ' +
    'hey yes no not and or but if so to of in on at for with from by about this that these those there here price ' +
    'much many cost open close opening closing hours today tomorrow deliver delivery available buy sell need want like ' +
    'know tell send order pay payment shop store good great ok okay sorry any some all more get got'
  ).split(/\s+/),
);

export function detectLanguage(text: string): Language | null {
  const words = foldWords(text);
  let sw = 0;
  let en = 0;
  for (const w of words) {
    if (SW.has(w)) sw++;
    else if (EN.has(w)) en++;
  }
  const total = sw + en;
  if (total === 0) return null;
  if (sw / total >= 0.75) return 'sw';
  if (en / total >= 0.75) return 'en';
  return 'mixed';
}

/** Which template language to prefer for a customer language ('mixed' reads Swahili first). */
export function preferredLanguages(lang: Language): string[] {
  return lang === 'sw' ? ['sw', 'en'] : lang === 'mixed' ? ['sw', 'en'] : ['en', 'sw'];
}

export function languageInstruction(lang: Language): string {
  switch (lang) {
    case 'sw':
      return 'The customer writes in Swahili: answer in Swahili.';
    case 'mixed':
      return 'The customer mixes English and Swahili: answer in the same easy mix of English and Swahili.';
    default:
      return 'The customer writes in English: answer in English.';
  }
}
