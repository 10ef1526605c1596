import { describe, expect, it } from 'vitest';
import { interfaceLocale, languageName, MESSAGES, negotiate, pageLanguage, requestedLocale } from './i18n.js';

describe('negotiate among the interface languages', () => {
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
    expect(negotiate(header, ['en', 'ja'], 'en')).toBe(locale);
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

describe('pageLanguage', () => {
  const languages = { locales: ['en', 'ja', 'de'], defaultLocale: 'ja' };
  it('takes ?lang=, then the stored language, then Accept-Language, and speaks the default locale’s words where Concord has none', () => {
    expect(pageLanguage(languages, { lang: 'DE', acceptLanguage: 'en' })).toEqual({ lang: 'de', current: 'de', ui: 'ja' });
    expect(pageLanguage(languages, { lang: 'fr', acceptLanguage: undefined, stored: 'en' })).toEqual({
      lang: undefined,
      current: 'en',
      ui: 'en',
    });
    expect(pageLanguage(languages, { lang: undefined, acceptLanguage: 'de-AT,en;q=0.5', stored: 'xx' })).toEqual({
      lang: undefined,
      current: 'de',
      ui: 'ja',
    });
    expect(pageLanguage(languages, { lang: undefined, acceptLanguage: 'fr' })).toEqual({ lang: undefined, current: 'ja', ui: 'ja' });
  });
});
