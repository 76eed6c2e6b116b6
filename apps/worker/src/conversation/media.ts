import type { Language } from './language.ts';

/**
 * What the bot says to a message it cannot read as text: a sensible acknowledgement per type,
 * in the customer's language. Never silence, never a promise nobody keeps.
 */
const ACK: Record<string, { en: string; sw: string }> = {
  image: {
    en: 'Thank you for the photo! Please tell us in a message what you would like to know about it, and we will help.',
    sw: 'Asante kwa picha! Tafadhali tuandikie unachotaka kujua kuhusu picha hii, nasi tutakusaidia.',
  },
  video: {
    en: 'Thank you for the video! Please tell us in a message what you would like to know, and we will help.',
    sw: 'Asante kwa video! Tafadhali tuandikie unachotaka kujua, nasi tutakusaidia.',
  },
  document: {
    en: 'Thank you, we received your document. Please tell us in a message how we can help with it.',
    sw: 'Asante, tumepokea hati yako. Tafadhali tuandikie jinsi tunavyoweza kukusaidia nayo.',
  },
  audio: {
    en: 'Thank you for your voice note. We cannot listen to voice notes here yet: please type your question and we will answer right away.',
    sw: 'Asante kwa ujumbe wa sauti. Bado hatuwezi kusikiliza ujumbe wa sauti hapa: tafadhali andika swali lako nasi tutajibu mara moja.',
  },
  audio_unclear: {
    en: 'Thank you for your voice note. We could not make it out clearly: please type your question and we will answer right away.',
    sw: 'Asante kwa ujumbe wa sauti. Hatukuweza kuusikia vizuri: tafadhali andika swali lako nasi tutajibu mara moja.',
  },
  sticker: {
    en: '😊 Thanks! How can we help you today?',
    sw: '😊 Asante! Tukusaidie vipi leo?',
  },
  location: {
    en: 'Thank you for sharing your location 📍. How can we help: is it for a delivery? Please tell us in a message.',
    sw: 'Asante kwa kututumia mahali ulipo 📍. Tukusaidie vipi: ni kwa ajili ya kuletewa mzigo? Tafadhali tuandikie.',
  },
  contacts: {
    en: 'Thank you for the contact card. How can we help?',
    sw: 'Asante kwa namba ya mawasiliano. Tukusaidie vipi?',
  },
  order: {
    en: 'Thank you for your order! We have received it and will confirm the details with you here shortly.',
    sw: 'Asante kwa oda yako! Tumeipokea na tutathibitisha maelezo nawe hapa hivi punde.',
  },
  interactive: {
    en: 'Thank you! How can we help you today?',
    sw: 'Asante! Tukusaidie vipi leo?',
  },
  unsupported: {
    en: 'Sorry, we cannot open this kind of message here. Please send your question as a text message.',
    sw: 'Samahani, hatuwezi kufungua aina hii ya ujumbe hapa. Tafadhali tuma swali lako kwa maandishi.',
  },
};

export function mediaAcknowledgement(type: string, lang: Language): string {
  const entry = ACK[type] ?? ACK['unsupported']!;
  return lang === 'sw' ? entry.sw : entry.en;
}

/** Built-in texts for the controls when the tenant has no template of that kind. */
const SYSTEM_TEXT = {
  optout: {
    en: 'You have been unsubscribed and will not receive more messages from us. Reply START to subscribe again.',
    sw: 'Umejiondoa na hutapokea ujumbe zaidi kutoka kwetu. Jibu ANZA au START kujiunga tena.',
  },
  optin: {
    en: 'Welcome back! You will receive our replies again. How can we help?',
    sw: 'Karibu tena! Utapokea majibu yetu tena. Tukusaidie vipi?',
  },
  away: {
    en: 'Thank you for your message. We are closed right now; we will reply as soon as we open.',
    sw: 'Asante kwa ujumbe wako. Tumefunga kwa sasa; tutakujibu mara tu tutakapofungua.',
  },
  handover: {
    en: "I'm passing you to a person from our team; they will reply here shortly.",
    sw: 'Nakuunganisha na mhudumu wetu; atakujibu hapa hivi punde.',
  },
} as const;

export function systemText(kind: keyof typeof SYSTEM_TEXT, lang: Language): string {
  return lang === 'sw' ? SYSTEM_TEXT[kind].sw : SYSTEM_TEXT[kind].en;
}
