/**
 * The preference center's own words in English and Japanese. Catalog texts (purpose titles,
 * notices) come from the YAML as written. The language is `?lang=`, else the best match of
 * `Accept-Language`, else English.
 */
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

/** The best supported language of an `Accept-Language` header (q-values honoured), else English. */
export function negotiateLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const quality = q === undefined ? 1 : Number(q.slice(2));
      return { base: tag.toLowerCase().split('-')[0] ?? '', quality: Number.isFinite(quality) ? quality : 0, index };
    })
    .filter((entry) => entry.quality > 0)
    .sort((a, b) => b.quality - a.quality || a.index - b.index);
  return ranked.map((entry) => entry.base).find(isLocale) ?? 'en';
}
