/**
 * The preference center's own words in English and Japanese. Catalog texts (purpose titles,
 * notices, topics) come from the YAML in each of `catalog.locales`. The page's language is
 * `?lang=` when it is one of the catalog's locales, else the best match of `Accept-Language`
 * among them, else the catalog's default locale. The interface speaks that language when it has
 * messages for it (en, ja), else the default locale's, else English.
 */
import type { LegalBasis } from '../../profile/schema.js';

export const LOCALES = ['en', 'ja'] as const;
export type Locale = (typeof LOCALES)[number];

export interface Messages {
  languageName: string;
  pageTitle: string;
  skipToContent: string;
  heading: string;
  intro(brand: string): string;
  preferencesFor: string;
  consentsHeading: string;
  consentsHint: string;
  noticeVersion(version: string): string;
  blockedRestricted: string;
  blockedObjection: string;
  blockedExpired: string;
  topicsHeading: string;
  topicsHint: string;
  save: string;
  saveHint: string;
  saved: string;
  unchanged: string;
  rightsHeading: string;
  rightsIntro: string;
  unavailable: string;
  unavailableNote(contact: string | undefined): string;
  rights: Record<
    'download' | 'restrict' | 'objectMarketing' | 'objectProfiling' | 'erase',
    { title: string; text: string; action: string }
  >;
  transparencyHeading: string;
  transparencyHint: string;
  transparencyWhy: string;
  transparencyLegalBasis: string;
  transparencyRecipients: string;
  transparencyRetention: string;
  noRecipients: string;
  retentionNotStated: string;
  legalBases: Record<LegalBasis, string>;
  language: string;
  personalLink: string;
  poweredBy: string;
  forbiddenTitle: string;
  forbiddenText: string;
  forbiddenHelp(contact: string | undefined): string;
  expiredSessionTitle: string;
  expiredSessionText: string;
  reload: string;
}

const en: Messages = {
  languageName: 'English',
  pageTitle: 'Your preferences',
  skipToContent: 'Skip to your preferences',
  heading: 'Your communication preferences',
  intro: (brand) =>
    `Choose what ${brand} may send you, and how. Your choices apply everywhere we keep your details, usually within a minute.`,
  preferencesFor: 'Preferences for',
  consentsHeading: 'How we may contact you',
  consentsHint: 'Turn each channel on or off. You can change your mind at any time.',
  noticeVersion: (version) => `Notice version ${version}`,
  blockedRestricted: 'You asked us to restrict the use of your data, so this stays off for now.',
  blockedObjection: 'You objected to this use of your data, so it stays off.',
  blockedExpired: 'Your earlier consent has expired. Turn it on again if you wish.',
  topicsHeading: 'Newsletters and topics',
  topicsHint: 'Pick the subjects you want to hear about.',
  save: 'Save my choices',
  saveHint: 'Nothing changes until you save.',
  saved: 'Your choices are saved. We are passing them on to every system that keeps your details.',
  unchanged: 'Nothing to save: these were already your choices.',
  rightsHeading: 'Your data rights',
  rightsIntro: 'Under data-protection law you can ask us to do the following.',
  unavailable: 'Not available online yet',
  unavailableNote: (contact) =>
    contact
      ? `These requests cannot be made on this page yet. To make one now, write to ${contact}.`
      : 'These requests cannot be made on this page yet. To make one now, reply to any of our e-mails.',
  rights: {
    download: { title: 'Download my data', text: 'Get a copy of the personal data we hold about you.', action: 'Request a copy' },
    restrict: {
      title: 'Restrict processing',
      text: 'Ask us to stop using your data while a question about it is settled.',
      action: 'Restrict',
    },
    objectMarketing: { title: 'Object to direct marketing', text: 'Stop all marketing to you, on every channel.', action: 'Object' },
    objectProfiling: { title: 'Object to profiling', text: 'Stop us personalising what we send and show you.', action: 'Object' },
    erase: {
      title: 'Erase my data',
      text: 'Delete your personal data from all our systems. You will be asked to confirm.',
      action: 'Erase…',
    },
  },
  transparencyHeading: 'How we use your data',
  transparencyHint:
    'For each purpose: why we collect the data, on what legal basis, which of our systems receive it and how long we keep it.',
  transparencyWhy: 'Why',
  transparencyLegalBasis: 'Legal basis',
  transparencyRecipients: 'Systems that receive it',
  transparencyRetention: 'How long we keep it',
  noRecipients: 'No connected system receives it.',
  retentionNotStated: 'Not stated. Ask us and we will tell you.',
  legalBases: {
    consent: 'Your consent (GDPR Art. 6(1)(a))',
    contract: 'Performing our contract with you (GDPR Art. 6(1)(b))',
    legal_obligation: 'A legal obligation we have (GDPR Art. 6(1)(c))',
    vital_interest: 'Protecting vital interests (GDPR Art. 6(1)(d))',
    public_task: 'A task in the public interest (GDPR Art. 6(1)(e))',
    legitimate_interest: 'Our legitimate interests (GDPR Art. 6(1)(f))',
  },
  language: 'Language',
  personalLink: 'This page is personal to you. Please do not forward its link.',
  poweredBy: 'Preferences managed with Concord',
  forbiddenTitle: 'This link cannot be opened',
  forbiddenText:
    'It may have expired, or a newer link may have replaced it. For your privacy, preference links are personal and work for a limited time only.',
  forbiddenHelp: (contact) =>
    contact
      ? `Use the link in our most recent e-mail, or write to ${contact} for a new one.`
      : 'Use the link in our most recent e-mail, or reply to it to ask for a new one.',
  expiredSessionTitle: 'Please try again',
  expiredSessionText: 'For your security this form expired before it was sent. Reload the page and make your changes again.',
  reload: 'Reload the page',
};

const ja: Messages = {
  languageName: '日本語',
  pageTitle: '配信設定',
  skipToContent: '設定へ移動',
  heading: 'ご連絡方法の設定',
  intro: (brand) =>
    `${brand}からお送りする内容と方法をお選びください。変更は、お客様の情報を保管するすべてのシステムに通常1分以内に反映されます。`,
  preferencesFor: '設定の対象',
  consentsHeading: 'ご連絡の方法',
  consentsHint: 'チャネルごとにオン・オフを切り替えられます。いつでも変更できます。',
  noticeVersion: (version) => `通知バージョン ${version}`,
  blockedRestricted: 'データの利用制限をご依頼いただいているため、現在はオフのままになります。',
  blockedObjection: 'この利用に異議をお申し出いただいているため、オフのままになります。',
  blockedExpired: '以前の同意は有効期限が切れています。必要であれば再度オンにしてください。',
  topicsHeading: 'ニュースレターとトピック',
  topicsHint: 'お知らせを受け取りたいテーマをお選びください。',
  save: '設定を保存',
  saveHint: '保存するまで変更は反映されません。',
  saved: '設定を保存しました。お客様の情報を保管するすべてのシステムに反映しています。',
  unchanged: '変更はありません。すでにこの設定になっています。',
  rightsHeading: 'データに関するお客様の権利',
  rightsIntro: 'データ保護法に基づき、次のことをご依頼いただけます。',
  unavailable: 'オンラインでは未対応',
  unavailableNote: (contact) =>
    contact
      ? `これらのご依頼は、まだこのページからは行えません。お急ぎの場合は ${contact} までご連絡ください。`
      : 'これらのご依頼は、まだこのページからは行えません。お急ぎの場合は、当社からのメールにご返信ください。',
  rights: {
    download: { title: 'データのダウンロード', text: '当社が保管するお客様の個人データの写しを受け取れます。', action: '写しを依頼' },
    restrict: { title: '処理の制限', text: 'データに関する問題が解決するまで、利用の停止をご依頼いただけます。', action: '制限する' },
    objectMarketing: {
      title: 'ダイレクトマーケティングへの異議',
      text: 'すべてのチャネルでのマーケティングを停止します。',
      action: '異議を申し出る',
    },
    objectProfiling: {
      title: 'プロファイリングへの異議',
      text: 'お送りする内容や表示のパーソナライズを停止します。',
      action: '異議を申し出る',
    },
    erase: { title: 'データの消去', text: 'すべてのシステムからお客様の個人データを削除します。確認の手順があります。', action: '消去…' },
  },
  transparencyHeading: 'データの利用について',
  transparencyHint: '目的ごとに、データを収集する理由、法的根拠、データを受け取る当社のシステム、保存期間を示します。',
  transparencyWhy: '利用目的',
  transparencyLegalBasis: '法的根拠',
  transparencyRecipients: 'データを受け取るシステム',
  transparencyRetention: '保存期間',
  noRecipients: '連携システムへの提供はありません。',
  retentionNotStated: '記載がありません。お問い合わせいただければお知らせします。',
  legalBases: {
    consent: 'お客様の同意（GDPR 第6条1項(a)）',
    contract: 'お客様との契約の履行（GDPR 第6条1項(b)）',
    legal_obligation: '当社の法的義務（GDPR 第6条1項(c)）',
    vital_interest: '生命に関わる利益の保護（GDPR 第6条1項(d)）',
    public_task: '公共の利益のための業務（GDPR 第6条1項(e)）',
    legitimate_interest: '当社の正当な利益（GDPR 第6条1項(f)）',
  },
  language: '言語',
  personalLink: 'このページはお客様専用です。リンクを他の方に転送しないでください。',
  poweredBy: 'Concord による設定管理',
  forbiddenTitle: 'このリンクは開けません',
  forbiddenText:
    '有効期限が切れたか、新しいリンクに置き換えられた可能性があります。プライバシー保護のため、設定ページのリンクはご本人専用で、有効期間が限られています。',
  forbiddenHelp: (contact) =>
    contact
      ? `最新のメールにあるリンクをご利用いただくか、${contact} まで新しいリンクをご依頼ください。`
      : '最新のメールにあるリンクをご利用いただくか、そのメールにご返信のうえ新しいリンクをご依頼ください。',
  expiredSessionTitle: 'もう一度お試しください',
  expiredSessionText: 'セキュリティのため、送信前にフォームの有効期限が切れました。ページを再読み込みして、もう一度変更してください。',
  reload: 'ページを再読み込み',
};

export const MESSAGES: Record<Locale, Messages> = { en, ja };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

interface RankedRange {
  tag: string;
  quality: number;
  index: number;
}

/** The language ranges of an `Accept-Language` header, best first (q-values honoured, q=0 and `*` left out). */
function ranges(acceptLanguage: string): string[] {
  return acceptLanguage
    .split(',')
    .map((part, index): RankedRange => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const quality = q === undefined ? 1 : Number(q.slice(2));
      return { tag: tag.trim().toLowerCase(), quality: Number.isFinite(quality) ? quality : 0, index };
    })
    .filter((entry) => entry.quality > 0 && entry.tag !== '' && entry.tag !== '*')
    .sort((a, b) => b.quality - a.quality || a.index - b.index)
    .map((entry) => entry.tag);
}

/**
 * The best of `available` for one language range (RFC 4647 lookup: the range, then the range
 * with its last subtags cut off), else the first available locale of the same language
 * (`pt` finds `pt-BR`).
 */
function lookup(range: string, available: readonly string[]): string | undefined {
  const lower = available.map((l) => l.toLowerCase());
  const parts = range.split('-');
  for (let n = parts.length; n > 0; n -= 1) {
    const at = lower.indexOf(parts.slice(0, n).join('-'));
    if (at !== -1) return available[at];
  }
  const at = lower.findIndex((l) => l.split('-')[0] === parts[0]);
  return at === -1 ? undefined : available[at];
}

/** The best of `available` for an `Accept-Language` header (q-values honoured), else `fallback`. */
export function negotiate(acceptLanguage: string | undefined, available: readonly string[], fallback: string): string {
  if (!acceptLanguage) return fallback;
  for (const range of ranges(acceptLanguage)) {
    const found = lookup(range, available);
    if (found !== undefined) return found;
  }
  return fallback;
}

/** One of `available` named by `?lang=` (compared case-insensitively), else undefined. */
export function requestedLocale(value: unknown, available: readonly string[]): string | undefined {
  if (typeof value !== 'string') return undefined;
  return available.find((l) => l.toLowerCase() === value.toLowerCase());
}

/**
 * The interface language for a page in `locale`: that language when the interface has messages
 * for it, else the default locale's, else English.
 */
export function interfaceLocale(locale: string, defaultLocale: string): Locale {
  const base = (tag: string): string => tag.toLowerCase().split('-')[0] ?? '';
  return LOCALES.find((l) => l === base(locale)) ?? LOCALES.find((l) => l === base(defaultLocale)) ?? 'en';
}

/** A language's own name (`日本語`, `Français`), for the language switch. */
export function languageName(locale: string): string {
  if (isLocale(locale)) return MESSAGES[locale].languageName;
  try {
    const name = new Intl.DisplayNames([locale], { type: 'language' }).of(locale);
    return name === undefined ? locale : name.charAt(0).toLocaleUpperCase(locale) + name.slice(1);
  } catch {
    return locale;
  }
}

/** The catalog's languages, which the pages and mails choose among. */
export interface PageLanguages {
  locales: readonly string[];
  defaultLocale: string;
}

/**
 * The language of one page: `lang` is the `?lang=` asked for (kept in the page's links),
 * `current` the catalog locale the visitor gets (catalog texts and mails are in it), `ui` the
 * language of the page's own words (`interfaceLocale` of `current`).
 */
export interface PageLanguage {
  lang: string | undefined;
  current: string;
  ui: Locale;
}

/** `?lang=` when it names a catalog locale, else `stored` (e.g. the language a link was asked in), else the best of `Accept-Language`. */
export function pageLanguage(
  languages: PageLanguages,
  asked: { lang: unknown; acceptLanguage: string | undefined; stored?: string },
): PageLanguage {
  const lang = requestedLocale(asked.lang, languages.locales);
  const stored = asked.stored !== undefined && languages.locales.includes(asked.stored) ? asked.stored : undefined;
  const current = lang ?? stored ?? negotiate(asked.acceptLanguage, languages.locales, languages.defaultLocale);
  return { lang, current, ui: interfaceLocale(current, languages.defaultLocale) };
}
