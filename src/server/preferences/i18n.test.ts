import { describe, expect, it } from 'vitest';
import { MESSAGES, negotiateLocale } from './i18n.js';

describe('negotiateLocale', () => {
  it.each([
    [undefined, 'en'],
    ['ja', 'ja'],
    ['ja-JP,ja;q=0.9,en;q=0.8', 'ja'],
    ['en-GB,en;q=0.9,ja;q=0.8', 'en'],
    ['fr-FR,ja;q=0.5', 'ja'],
    ['fr, de', 'en'],
    ['en;q=0.2, ja;q=0.7', 'ja'],
    ['ja;q=0, en', 'en'],
  ])('%s -> %s', (header, locale) => {
    expect(negotiateLocale(header)).toBe(locale);
  });

  it('has every message in both languages', () => {
    expect(Object.keys(MESSAGES.ja).sort()).toEqual(Object.keys(MESSAGES.en).sort());
    expect(Object.keys(MESSAGES.ja.rights).sort()).toEqual(Object.keys(MESSAGES.en.rights).sort());
  });
});
