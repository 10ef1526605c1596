import { describe, expect, it } from 'vitest';
import { interfaceLocale, languageName, MESSAGES, negotiate, negotiateLocale, requestedLocale } from './i18n.js';

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

describe('negotiate among the catalog locales', () => {
  const available = ['en', 'ja', 'pt-BR', 'zh-Hant'];
  it.each([
    [undefined, 'en'],
    ['ja-JP,ja;q=0.9,en;q=0.8', 'ja'],
    ['pt-BR,pt;q=0.9', 'pt-BR'],
    ['pt', 'pt-BR'],
    ['PT-br', 'pt-BR'],
    ['zh-Hant-TW', 'zh-Hant'],
    ['fr-FR,de;q=0.8', 'en'],
    ['*', 'en'],
    ['fr, ja;q=0.1', 'ja'],
  ])('%s -> %s', (header, locale) => {
    expect(negotiate(header, available, 'en')).toBe(locale);
  });

  it('takes ?lang= only when it names a configured locale', () => {
    expect(requestedLocale('pt-br', available)).toBe('pt-BR');
    expect(requestedLocale('fr', available)).toBeUndefined();
    expect(requestedLocale(['ja'], available)).toBeUndefined();
  });
});

describe('the interface language of a page', () => {
  it('is the page language when the interface speaks it, else the default locale, else English', () => {
    expect(interfaceLocale('ja', 'en')).toBe('ja');
    expect(interfaceLocale('ja-JP', 'en')).toBe('ja');
    expect(interfaceLocale('fr', 'ja')).toBe('ja');
    expect(interfaceLocale('fr', 'de')).toBe('en');
  });

  it('names each language in itself', () => {
    expect(languageName('ja')).toBe('日本語');
    expect(languageName('en')).toBe('English');
    expect(languageName('fr')).toBe('Français');
    expect(languageName('pt-BR')).toBe('Português (Brasil)');
  });
});
