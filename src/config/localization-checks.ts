/**
 * Translations: every catalog text, connector display name and mail text exists in each locale
 * of `catalog.locales` (or, with `fallback: defaultLocale`, in the default locale), names no
 * locale the catalog does not list, and a mail uses only its own placeholders.
 */
import { dict, isDict, list } from './check-kit.js';
import type { CheckFinding, Dict } from './check-kit.js';
import type { ConfigPath } from './locate.js';
import { canonicalLocale } from './localized.js';
import { MAIL_KINDS, MAIL_PARTS, MAIL_PLACEHOLDERS, MAIL_REQUIRED, hasBuiltinMailTexts, placeholdersIn } from '../mail/texts.js';

/** Where the file writes a text per locale: every catalog text and each connector's display name. */
function localizedTexts(root: Dict): { path: ConfigPath; text: unknown }[] {
  const catalog = dict(root['catalog']);
  const out: { path: ConfigPath; text: unknown }[] = [];
  const add = (path: ConfigPath, owner: Dict, key: string): void => {
    if (owner[key] !== undefined) out.push({ path: [...path, key], text: owner[key] });
  };
  for (const [id, purpose] of Object.entries(dict(catalog['purposes']))) {
    const base = ['catalog', 'purposes', id];
    for (const key of ['title', 'description']) add(base, dict(purpose), key);
    add([...base, 'notice'], dict(dict(purpose)['notice']), 'text');
    for (const key of ['purpose', 'retention']) add(base, dict(purpose), key);
  }
  for (const [id, channel] of Object.entries(dict(catalog['channels']))) add(['catalog', 'channels', id], dict(channel), 'title');
  for (const [id, topic] of Object.entries(dict(catalog['topics']))) {
    for (const key of ['title', 'description']) add(['catalog', 'topics', id], dict(topic), key);
  }
  for (const [id, instance] of Object.entries(dict(root['connectors']))) add(['connectors', id], dict(instance), 'displayName');
  return out;
}

/**
 * Every text has every locale of `catalog.locales` (with `fallback: defaultLocale`, at least the
 * default locale's), no text names a locale the catalog does not list, and a notice versioned
 * per locale has a version for each locale its text is written in.
 */
export function localizationFindings(root: unknown): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const catalog = dict(dict(root)['catalog']);
  const defaultLocale = typeof catalog['defaultLocale'] === 'string' ? catalog['defaultLocale'] : 'en';
  // Tags that are not canonical BCP 47 are reported by the schema, and are no locale here.
  const listed = list(catalog['locales']).filter((l): l is string => typeof l === 'string' && canonicalLocale(l) === l);
  const locales = Array.isArray(catalog['locales']) ? listed : [defaultLocale];
  const fallback = catalog['fallback'] === 'defaultLocale';
  const known = locales.join(', ');
  if (!locales.includes(defaultLocale)) {
    findings.push({
      code: 'unknown_locale',
      path: ['catalog', 'defaultLocale'],
      at: 'value',
      message: `"${defaultLocale}" is not in catalog.locales (${known})`,
    });
  }
  const written = (text: unknown): string[] | undefined =>
    typeof text === 'string' ? [defaultLocale] : isDict(text) ? Object.keys(text) : undefined;
  const unlisted = (path: ConfigPath, text: unknown): void => {
    if (!isDict(text)) return;
    for (const locale of Object.keys(text)) {
      if (!locales.includes(locale))
        findings.push({
          code: 'unknown_locale',
          path: [...path, locale],
          at: 'key',
          message: `"${locale}" is not in catalog.locales (${known})`,
        });
    }
  };
  for (const { path, text } of localizedTexts(dict(root))) {
    const has = written(text);
    if (has === undefined) continue;
    unlisted(path, text);
    const missing = fallback ? (has.includes(defaultLocale) ? [] : [defaultLocale]) : locales.filter((l) => !has.includes(l));
    for (const locale of missing) {
      findings.push({
        code: 'missing_translation',
        path,
        at: 'value',
        message: `no "${locale}" text${fallback ? ' (the default locale, shown where a translation is missing)' : ''}`,
      });
    }
  }
  for (const [id, purpose] of Object.entries(dict(catalog['purposes']))) {
    const notice = dict(dict(purpose)['notice']);
    const version = notice['version'];
    if (!isDict(version)) continue;
    const path = ['catalog', 'purposes', id, 'notice', 'version'];
    unlisted(path, version);
    for (const locale of (written(notice['text']) ?? []).filter((l) => locales.includes(l))) {
      if (!(locale in version))
        findings.push({
          code: 'missing_translation',
          path,
          at: 'value',
          message: `no "${locale}" version (the notice has "${locale}" text)`,
        });
    }
  }
  findings.push(...mailTextFindings(dict(dict(dict(root)['hub'])['mail']), { locales, defaultLocale, fallback }, unlisted));
  return findings;
}

/**
 * The mails (only when the hub sends mail): each part of each mail exists in every locale, from
 * the YAML or shipped with Concord, and uses only the mail's placeholders.
 */
function mailTextFindings(
  mail: Dict,
  catalog: { locales: readonly string[]; defaultLocale: string; fallback: boolean },
  unlisted: (path: ConfigPath, text: unknown) => void,
): CheckFinding[] {
  const findings: CheckFinding[] = [];
  if (Object.keys(mail).length === 0) return findings;
  const texts = dict(mail['texts']);
  const needed = catalog.fallback ? [catalog.defaultLocale] : catalog.locales;
  const absent = new Map<string, string[]>();
  for (const kind of MAIL_KINDS) {
    for (const part of MAIL_PARTS) {
      const path = ['hub', 'mail', 'texts', kind, part];
      const text = dict(texts[kind])[part];
      const written = typeof text === 'string' ? { [catalog.defaultLocale]: text } : dict(text);
      const has = Object.keys(written);
      unlisted(path, text);
      const lacking = needed.filter((locale) => !has.includes(locale) && !hasBuiltinMailTexts(locale));
      for (const locale of lacking) {
        if (text === undefined) absent.set(locale, [...(absent.get(locale) ?? []), `${kind}.${part}`]);
        else
          findings.push({
            code: 'missing_translation',
            path,
            at: 'value',
            message: `no "${locale}" text for the ${part} of the mail ${kind}${catalog.fallback ? '' : ' (or set catalog.fallback: defaultLocale)'}`,
          });
      }
      const templates = Object.values(written).filter((t): t is string => typeof t === 'string');
      for (const name of part === 'body' ? (MAIL_REQUIRED[kind] ?? []) : []) {
        for (const [locale, template] of Object.entries(written)) {
          if (typeof template === 'string' && !placeholdersIn(template).includes(name))
            findings.push({
              code: 'missing_placeholder',
              path: typeof text === 'string' ? path : [...path, locale],
              at: 'value',
              message: `the ${kind} mail must carry {${name}} (without it the person cannot confirm)`,
            });
        }
      }
      const allowed = MAIL_PLACEHOLDERS[kind];
      for (const name of new Set(templates.flatMap(placeholdersIn))) {
        if (!allowed.includes(name))
          findings.push({
            code: 'unknown_placeholder',
            path,
            at: 'value',
            message: `the ${kind} mail has no placeholder {${name}} (it has ${allowed.map((a) => `{${a}}`).join(', ')})`,
          });
      }
    }
  }
  for (const [locale, parts] of absent) {
    findings.push({
      code: 'missing_translation',
      path: ['hub', 'mail'],
      at: 'key',
      message: `no "${locale}" texts for the mails (Concord ships en and ja): write hub.mail.texts.<mail>.<part>.${locale} for ${parts.join(', ')}${catalog.fallback ? '' : ', or set catalog.fallback: defaultLocale'}`,
    });
  }
  return findings;
}
