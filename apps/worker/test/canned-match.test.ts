import { describe, expect, it } from 'vitest';
import type { CannedTemplate } from '@alphadome/tenant-core';
import { matchCanned } from '../src/reply/canned-match.ts';

const tpl = (name: string, triggers: string[]): CannedTemplate => ({ id: name, name, triggers, body: name, language: 'en' });
const templates = [tpl('greeting', ['hi', 'hello', 'habari']), tpl('hours', ['saa ngapi', 'open']), tpl('hours-sunday', ['open on sunday'])];
const match = (text: string) => matchCanned(text, templates)?.template.name ?? null;

describe('matchCanned', () => {
  it('matches whole words only: "hi" never matches "ship" or "this"', () => {
    expect(match('Can you ship this?')).toBeNull();
    expect(match('hi')).toBe('greeting');
    expect(match('Hi, I need strings')).toBe('greeting');
    expect(match('opening')).toBeNull();
  });

  it('is case- and accent-insensitive', () => {
    expect(match('HÉLLO!!')).toBe('greeting');
    expect(match('Hàbari yako')).toBe('greeting');
  });

  it('matches phrases as consecutive words; the most specific trigger wins', () => {
    expect(match('Saa ngapi mnafungua?')).toBe('hours');
    expect(match('saa gani ngapi')).toBeNull();
    expect(match('Are you open on Sunday?')).toBe('hours-sunday');
    expect(match('are you open today')).toBe('hours');
  });

  it('ignores empty triggers and empty text', () => {
    expect(matchCanned('', templates)).toBeNull();
    expect(matchCanned('hi', [tpl('x', ['', '  ', '!!'])])).toBeNull();
  });
});
