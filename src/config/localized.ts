/**
 * Texts written per language in the YAML. A catalog text (a purpose's title, a notice, a topic's
 * description...) is either one string, which is the text of the catalog's default locale, or a
 * map locale -> text (`{ en: E-mail, ja: メール }`). Locales are BCP 47 tags in canonical form
 * (`en`, `ja`, `pt-BR`, `zh-Hant`). Which locales a text must have is checked across the file
 * (`localizationFindings` in `checks.ts`); at run time a text is read with `textIn`.
 */
import { z } from 'zod';

/** The canonical form of a BCP 47 tag, or undefined when it is not one. */
export function canonicalLocale(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/** A BCP 47 language tag, written in its canonical form (`en`, `ja`, `pt-BR`). */
export const LocaleTag = z
  .string()
  .min(2)
  .max(35)
  .superRefine((tag, ctx) => {
    const canonical = canonicalLocale(tag);
    if (canonical === undefined) ctx.addIssue({ code: 'custom', message: `"${tag}" is not a BCP 47 language tag (e.g. en, ja, pt-BR)` });
    else if (canonical !== tag) ctx.addIssue({ code: 'custom', message: `write the language tag "${tag}" as "${canonical}"` });
  })
  .meta({ description: 'A BCP 47 language tag in canonical form, e.g. en, ja, pt-BR.' });

/** A text in one or more languages: a string (the default locale's text) or a map locale -> text. */
export const LocalizedText = z.union([z.string().min(1), z.record(LocaleTag, z.string().min(1))]).meta({
  description:
    'A text: one string (the text of catalog.defaultLocale) or a map locale -> text, e.g. { en: E-mail, ja: メール }. Every locale of catalog.locales needs a text unless catalog.fallback is defaultLocale.',
});
export type LocalizedText = z.infer<typeof LocalizedText>;

/** A notice's version: one for every language, or a map locale -> version (each translation versioned on its own). */
export const LocalizedVersion = z.union([z.string().min(1), z.record(LocaleTag, z.string().min(1))]).meta({
  description:
    "The notice's version, recorded as consent evidence with the locale shown: one string for every language, or a map locale -> version (each locale of the notice's text needs one).",
});
export type LocalizedVersion = z.infer<typeof LocalizedVersion>;

/** Whether a missing translation is an error (`none`) or shows the default locale's text (`defaultLocale`). */
export const LocaleFallback = z.enum(['none', 'defaultLocale']);
export type LocaleFallback = z.infer<typeof LocaleFallback>;

/** A text as shown: the words and the locale they are in. */
export interface ShownText {
  text: string;
  locale: string;
}

/** The locales a text is written in (a plain string is the default locale's). */
export function localesOf(text: LocalizedText, defaultLocale: string): string[] {
  return typeof text === 'string' ? [defaultLocale] : Object.keys(text);
}

/**
 * The text in `locale`, else in `defaultLocale`, else the first one written. The loader has
 * made sure every configured locale has its text unless the operator allowed the fallback.
 */
export function textIn(text: LocalizedText, locale: string, defaultLocale: string): ShownText {
  if (typeof text === 'string') return { text, locale: defaultLocale };
  const exact = text[locale];
  if (exact !== undefined) return { text: exact, locale };
  const fallback = text[defaultLocale];
  if (fallback !== undefined) return { text: fallback, locale: defaultLocale };
  const [first] = Object.entries(text);
  return first === undefined ? { text: '', locale: defaultLocale } : { text: first[1], locale: first[0] };
}

/** A notice as shown in one language: its text, the locale shown and that locale's version. */
export interface ShownNotice extends ShownText {
  version: string;
}

/** The notice in `locale` (with the fallback of `textIn`) and the version of the text shown. */
export function noticeIn(notice: { text: LocalizedText; version: LocalizedVersion }, locale: string, defaultLocale: string): ShownNotice {
  const shown = textIn(notice.text, locale, defaultLocale);
  const version = typeof notice.version === 'string' ? notice.version : (notice.version[shown.locale] ?? '');
  return { ...shown, version };
}
