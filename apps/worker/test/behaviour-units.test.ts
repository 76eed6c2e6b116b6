import { describe, expect, it } from 'vitest';
import { estimateCostUsd, budgetState } from '../src/conversation/budget.ts';
import { hoursStatus, parseSchedule } from '../src/conversation/business-hours.ts';
import { detectLanguage } from '../src/conversation/language.ts';
import { guardAnswer, linkHosts } from '../src/conversation/output-guard.ts';
import { containsPhrase, isCommand } from '../src/conversation/phrases.ts';
import { DEFAULT_HANDOVER_PHRASES, DEFAULT_OPTOUT_KEYWORDS, behaviourSettings } from '../src/conversation/settings.ts';

describe('business hours', () => {
  const week = parseSchedule({ mon: [['09:00', '18:00']], tue: [['09:00', '18:00']], sat: [['22:00', '02:00']] });
  // 2025-06-02 is a Monday; Nairobi is UTC+3
  const at = (iso: string) => new Date(iso);
  it('open inside an interval, closed outside, in the tenant time zone', () => {
    expect(hoursStatus(week, 'Africa/Nairobi', at('2025-06-02T07:00:00Z')).open).toBe(true); // 10:00 local
    expect(hoursStatus(week, 'Africa/Nairobi', at('2025-06-02T05:30:00Z')).open).toBe(false); // 08:30 local
    expect(hoursStatus(week, 'UTC', at('2025-06-02T05:30:00Z')).open).toBe(false);
  });
  it('one closed period from closing time to the next opening', () => {
    const evening = hoursStatus(week, 'Africa/Nairobi', at('2025-06-02T16:00:00Z')); // Mon 19:00
    const night = hoursStatus(week, 'Africa/Nairobi', at('2025-06-02T23:00:00Z')); // Tue 02:00
    const nextEvening = hoursStatus(week, 'Africa/Nairobi', at('2025-06-03T16:00:00Z')); // Tue 19:00
    expect(evening.open).toBe(false);
    expect(evening.closedPeriod).toBe(night.closedPeriod);
    expect(nextEvening.closedPeriod).not.toBe(evening.closedPeriod);
  });
  it('intervals past midnight; no schedule means always open', () => {
    expect(hoursStatus(week, 'UTC', at('2025-06-08T01:00:00Z')).open).toBe(true); // Sun 01:00 after Sat 22:00
    expect(hoursStatus(null, 'UTC').open).toBe(true);
    expect(parseSchedule('nonsense')).toBeNull();
  });
});

describe('language', () => {
  it.each([
    ['Do you have guitar strings in stock?', 'en'],
    ['Habari, mnauza gitaa kwa bei gani?', 'sw'],
    ['Sasa, do you have hii guitar kwa stock?', 'mixed'],
    ['👍', null],
  ])('%s → %s', (text, lang) => expect(detectLanguage(text)).toBe(lang));
});

describe('phrases', () => {
  it('handover phrases as whole words, English and Swahili', () => {
    expect(containsPhrase('Can I talk to a person?', DEFAULT_HANDOVER_PHRASES)).toBe('talk to a person');
    expect(containsPhrase('Nataka kuongea na mtu', DEFAULT_HANDOVER_PHRASES)).not.toBeNull();
    expect(containsPhrase('Do you sell humane mouse traps?', DEFAULT_HANDOVER_PHRASES)).toBeNull();
  });
  it('opt-out only as a command', () => {
    expect(isCommand('STOP', DEFAULT_OPTOUT_KEYWORDS)).toBe(true);
    expect(isCommand('stop please!', DEFAULT_OPTOUT_KEYWORDS)).toBe(true);
    expect(isCommand('Sitaki', DEFAULT_OPTOUT_KEYWORDS)).toBe(true);
    expect(isCommand('where is the bus stop', DEFAULT_OPTOUT_KEYWORDS)).toBe(false);
    expect(isCommand('acha nione bei', DEFAULT_OPTOUT_KEYWORDS)).toBe(false);
  });
  it('settings from jsonb with defaults', () => {
    const b = behaviourSettings({ handover_phrases: ['manager'], handover_quiet_minutes: 5, allowed_url_hosts: ['https://Shop.co.ke/x'] });
    expect(b.handoverPhrases).toEqual(['manager']);
    expect(b.handoverQuietMinutes).toBe(5);
    expect(b.allowedUrlHosts).toEqual(['shop.co.ke']);
    expect(behaviourSettings({ handover_phrases: 'x' }).handoverPhrases).toBe(DEFAULT_HANDOVER_PHRASES);
  });
});

describe('output guard', () => {
  const base = {
    instructions: ['You are the assistant of Kassangas Music Shop. Internal note: staff discounts are never mentioned.', 'Answer only from the business data below and this conversation; never invent prices, stock, dates or policies.'],
    faqQuestions: ['Do you sell guitar strings?', 'Do you deliver to Mombasa?', 'Are you open on Sundays?'],
    foreignMarkers: ['Baraka Bakery', '+254 711 222 333'],
    allowedHosts: ['kassangas.co.ke'],
  };
  it.each([
    ['Yes, Ernie Ball strings from KES 900.', true],
    ['Pay at https://kassangas.co.ke/pay or www.kassangas.co.ke.', true],
    ['Internal note: staff discounts are never mentioned. You are the assistant of Kassangas Music Shop.', false],
    ['Visit https://evil.example.com now', false],
    ['Call Baraka Bakery on 0711 222 333', false],
    ['Call +254 711 222 333', false],
    ['Do you sell guitar strings? Do you deliver to Mombasa? Are you open on Sundays? All yes.', false],
    ['sk-abcdefghijklmnop1234 is the key', false],
  ])('%s → ok=%s', (answer, ok) => expect(guardAnswer({ ...base, answer }).ok).toBe(ok));
  it('finds scheme-less hosts', () => expect(linkHosts('see evil-pay.xyz/now and https://a.b.co.ke/x')).toEqual(['evil-pay.xyz', 'a.b.co.ke']));
});

describe('budget', () => {
  it('prices by model, thresholds at 80 % and 100 %', () => {
    expect(estimateCostUsd('gpt-4o-mini', 1_000_000, 1_000_000)).toBeCloseTo(0.75);
    expect(estimateCostUsd('gpt-4o-2024-08-06', 1_000_000, 0)).toBeCloseTo(2.5);
    expect(estimateCostUsd('some-local-model', 1000, 1000)).toBeGreaterThan(0);
    expect(budgetState(799, 1000)).toBe('ok');
    expect(budgetState(800, 1000)).toBe('warn');
    expect(budgetState(1000, 1000)).toBe('exhausted');
    expect(budgetState(10 ** 9, null)).toBe('ok');
  });
});
