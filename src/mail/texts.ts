/**
 * The mails' words: a subject and a body per mail, per locale, with `{placeholder}`s. Concord
 * ships English and Japanese texts; an operator overrides them or adds locales in the YAML
 * (`hub.mail.texts`), and the config check names every mail a configured locale lacks.
 *
 * A body line whose placeholder has no value (an export's `{download}` when no download link
 * is given) is left out, so a template carries its optional lines.
 */

/** Every mail Concord sends to a data subject. */
export const MAIL_KINDS = ['verifyExport', 'verifyErase', 'completedExport', 'completedErase', 'failedExport', 'failedErase'] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

/** The parts of a mail a text is written for. */
export const MAIL_PARTS = ['subject', 'body'] as const;
export type MailPart = (typeof MAIL_PARTS)[number];

/** The placeholders each mail may use. */
export const MAIL_PLACEHOLDERS: Record<MailKind, readonly string[]> = {
  verifyExport: ['brand', 'url', 'minutes'],
  verifyErase: ['brand', 'url', 'minutes'],
  completedExport: ['brand', 'reference', 'download'],
  completedErase: ['brand', 'reference'],
  failedExport: ['brand', 'reference'],
  failedErase: ['brand', 'reference'],
};

/** The placeholders a mail's body must use: a link mail without its link confirms nothing. */
export const MAIL_REQUIRED: Partial<Record<MailKind, readonly string[]>> = {
  verifyExport: ['url'],
  verifyErase: ['url'],
};

/** A text per locale (`{ en: ..., ja: ... }`) or one string, the default locale's. */
export type MailText = string | Record<string, string>;

/** Mail texts as written in the YAML, for every mail, part and locale. */
export type MailTexts = Partial<Record<MailKind, Partial<Record<MailPart, MailText>>>>;

type Builtin = Record<MailKind, Record<MailPart, Record<string, string>>>;

const lines = (...parts: string[]): string => parts.join('\n');

/** A link mail's body around the sentence that says what was asked. */
const verifyBody = {
  en: (asked: string): string =>
    lines(
      'Hello,',
      '',
      asked,
      '',
      'To confirm, open this link within {minutes} minutes and press the button on the page:',
      '{url}',
      '',
      'If you did not ask for this, ignore this message: nothing happens without your confirmation.',
    ),
  ja: (asked: string): string =>
    lines(
      'こんにちは。',
      '',
      asked,
      '',
      'ご依頼を確定するには、{minutes}分以内に次のリンクを開き、ページのボタンを押してください。',
      '{url}',
      '',
      'お心当たりのない場合は、このメールを無視してください。確認がない限り、何も行われません。',
    ),
};

/** A notice's body: a greeting, what happened, and the reference. */
const noticeBody = {
  en: (...what: string[]): string => lines('Hello,', '', ...what, '', 'Reference: {reference}'),
  ja: (...what: string[]): string => lines('こんにちは。', '', ...what, '', '受付番号: {reference}'),
};

/** The texts Concord ships, per mail, part and locale. */
export const BUILTIN_MAIL_TEXTS: Builtin = {
  verifyExport: {
    subject: {
      en: '{brand}: confirm your request for a copy of your data',
      ja: '{brand}:データの写しのご依頼の確認',
    },
    body: {
      en: verifyBody.en('someone, probably you, asked {brand} for a copy of the personal data held for this address.'),
      ja: verifyBody.ja('このメールアドレスについて、{brand}が保管する個人データの写しのご依頼がありました。'),
    },
  },
  verifyErase: {
    subject: { en: '{brand}: confirm the erasure of your data', ja: '{brand}:データ消去のご確認' },
    body: {
      en: verifyBody.en('someone, probably you, asked {brand} to erase the personal data held for this address.'),
      ja: verifyBody.ja('このメールアドレスについて、{brand}が保管する個人データの消去のご依頼がありました。'),
    },
  },
  completedExport: {
    subject: { en: '{brand}: your copy of your data is ready', ja: '{brand}:データの写しの準備ができました' },
    body: {
      en: noticeBody.en(
        'the copy of your personal data you asked {brand} for is ready.',
        '',
        'Download it here (the link works for 24 hours): {download}',
      ),
      ja: noticeBody.ja(
        'ご依頼いただいた{brand}が保管する個人データの写しの準備ができました。',
        '',
        'こちらからダウンロードできます(リンクの有効期間は24時間です): {download}',
      ),
    },
  },
  completedErase: {
    subject: { en: '{brand}: your data has been erased', ja: '{brand}:データの消去が完了しました' },
    body: {
      en: noticeBody.en(
        '{brand} has erased your personal data from every system, as you asked. We keep only a record that the erasure was carried out, without your details.',
      ),
      ja: noticeBody.ja(
        'ご依頼のとおり、{brand}はすべてのシステムからお客様の個人データを消去しました。消去を行った記録のみを、お客様の情報を含まない形で保管します。',
      ),
    },
  },
  failedExport: {
    subject: { en: '{brand}: your copy of your data could not be prepared yet', ja: '{brand}:データの写しを準備できませんでした' },
    body: {
      en: noticeBody.en(
        '{brand} could not yet prepare the copy of your personal data you asked for: the request failed.',
        '{brand} will follow it up and contact you; you need not ask again.',
      ),
      ja: noticeBody.ja(
        'ご依頼いただいた個人データの写しについて、{brand}は準備を完了できませんでした。',
        '{brand}が引き続き対応し、ご連絡いたします。改めてご依頼いただく必要はありません。',
      ),
    },
  },
  failedErase: {
    subject: { en: '{brand}: your erasure request could not be completed yet', ja: '{brand}:データの消去を完了できませんでした' },
    body: {
      en: noticeBody.en(
        '{brand} could not yet erase your personal data from every system, as you asked: the request failed in at least one of them.',
        '{brand} will follow it up and contact you; you need not ask again.',
      ),
      ja: noticeBody.ja(
        'ご依頼いただいた個人データの消去について、{brand}は一部のシステムで消去を完了できませんでした。',
        '{brand}が引き続き対応し、ご連絡いたします。改めてご依頼いただく必要はありません。',
      ),
    },
  },
};

/** The locales Concord ships texts for (each covers its regional variants: `en` serves `en-GB`). */
export const BUILTIN_MAIL_LOCALES: readonly string[] = ['en', 'ja'];

const language = (tag: string): string => tag.toLowerCase().split('-')[0] ?? '';

/** The shipped text of a mail part in `locale` (or its language), if Concord has one. */
function builtinText(kind: MailKind, part: MailPart, locale: string): string | undefined {
  const texts = BUILTIN_MAIL_TEXTS[kind][part];
  return texts[locale] ?? texts[language(locale)];
}

/** Whether the shipped texts cover `locale` (every mail exists in each shipped locale). */
export function hasBuiltinMailTexts(locale: string): boolean {
  return BUILTIN_MAIL_LOCALES.includes(language(locale));
}

/** The operator's text of a part in exactly `locale`, if written (a plain string is the default locale's). */
function operatorText(text: MailText | undefined, locale: string, defaultLocale: string): string | undefined {
  if (text === undefined) return undefined;
  if (typeof text === 'string') return locale === defaultLocale ? text : undefined;
  return text[locale];
}

/** The placeholders a template uses (`{name}`), in order of appearance, each once. */
export function placeholdersIn(template: string): string[] {
  return [...new Set([...template.matchAll(/\{([a-zA-Z]+)\}/g)].map((m) => m[1] ?? ''))];
}

/** What the mails are written with: the operator's texts over the shipped ones. */
export interface MailTextSource {
  texts?: MailTexts;
  /** The catalog's default locale: the language of a mail whose locale has no text. */
  defaultLocale: string;
}

/** A mail ready to send: its words and the locale they are in. */
export interface RenderedMail {
  subject: string;
  text: string;
  locale: string;
}

/**
 * One part in `locale`: the operator's text, else the shipped one, and where neither exists the
 * default locale's (operator's, then shipped), else English. The config check has made sure each
 * configured locale has its texts unless the operator allowed the fallback.
 */
function pick(source: MailTextSource, kind: MailKind, part: MailPart, locale: string): { template: string; locale: string } {
  const written = source.texts?.[kind]?.[part];
  for (const candidate of [locale, source.defaultLocale]) {
    const template = operatorText(written, candidate, source.defaultLocale) ?? builtinText(kind, part, candidate);
    if (template !== undefined) return { template, locale: candidate };
  }
  return { template: BUILTIN_MAIL_TEXTS[kind][part]['en'] ?? '', locale: 'en' };
}

function fill(template: string, values: Partial<Record<string, string>>): string | undefined {
  let missing = false;
  const text = template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) missing = true;
    return value ?? '';
  });
  return missing ? undefined : text;
}

/**
 * The mail `kind` in `locale` with `values` put in. A body line with a placeholder that has no
 * value is left out (with the blank line before it when that leaves two in a row).
 */
export function renderMail(source: MailTextSource, kind: MailKind, locale: string, values: Partial<Record<string, string>>): RenderedMail {
  const subject = pick(source, kind, 'subject', locale);
  const body = pick(source, kind, 'body', locale);
  const kept: string[] = [];
  for (const line of body.template.split('\n')) {
    const filled = fill(line, values);
    if (filled === undefined) {
      if (kept.at(-1) === '') kept.pop();
      continue;
    }
    kept.push(filled);
  }
  return {
    subject: fill(subject.template, values) ?? subject.template.replace(/\{[a-zA-Z]+\}/g, ''),
    text: kept.join('\n'),
    locale: body.locale,
  };
}
