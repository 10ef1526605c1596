/**
 * The public request page's own words, in English and Japanese (the preference center's
 * interface languages; a page in another catalog locale shows the default locale's words, else
 * English). The mails' words are in `src/mail/texts.ts` and the YAML (`hub.mail.texts`).
 */
import type { Locale } from '../preferences/i18n.js';

export interface RequestMessages {
  pageTitle: string;
  heading: string;
  intro(brand: string): string;
  emailLabel: string;
  emailHint: string;
  kindLegend: string;
  kindExport: { title: string; text: string };
  kindErase: { title: string; text: string };
  submit: string;
  invalidEmail: string;
  sentTitle: string;
  sentText(minutes: number): string;
  tooManyTitle: string;
  tooManyText: string;
  mailFailedTitle: string;
  mailFailedText: string;
  confirmTitle: string;
  confirmExport: string;
  confirmErase(brand: string): string;
  confirmButton: string;
  doneTitle: string;
  doneText: string;
  reference(id: string): string;
  failedText: string;
  expiredTitle: string;
  expiredText: string;
  usedTitle: string;
  usedText: string;
  unknownTitle: string;
  unknownText: string;
  startAgain: string;
  sessionTitle: string;
  sessionText: string;
}

const en: RequestMessages = {
  pageTitle: 'Your data',
  heading: 'Ask for your data, or for its erasure',
  intro: (brand) =>
    `Enter the e-mail address ${brand} knows you by. We will send a link to it: your request is made only once you open the link and confirm.`,
  emailLabel: 'E-mail address',
  emailHint: 'We use it only to confirm this request and to tell you when it is done.',
  kindLegend: 'What would you like?',
  kindExport: { title: 'A copy of my data', text: 'Everything we hold about you, in JSON and CSV.' },
  kindErase: { title: 'Erase my data', text: 'Delete your personal data from all our systems.' },
  submit: 'Send me the link',
  invalidEmail: 'Please enter a valid e-mail address.',
  sentTitle: 'Check your mail',
  sentText: (minutes) =>
    `We have sent a link to the address you entered. Open it within ${minutes} minutes to confirm your request; it works once. If no message arrives, check the address and try again.`,
  tooManyTitle: 'Too many requests',
  tooManyText: 'For everyone’s privacy we limit how many requests can be made. Please try again later.',
  mailFailedTitle: 'We could not send the link',
  mailFailedText: 'Our mail service is not available right now. Nothing was requested. Please try again in a few minutes.',
  confirmTitle: 'Confirm your request',
  confirmExport: 'You asked for a copy of the personal data we hold about you. Confirm to start it.',
  confirmErase: (brand) => `You asked us to erase your personal data from ${brand} and from every system we use. This cannot be undone.`,
  confirmButton: 'Confirm my request',
  doneTitle: 'Your request is recorded',
  doneText: 'We are carrying it out in every system and will e-mail you when it is done, within one month at most.',
  reference: (id) => `Reference: ${id}`,
  failedText: 'Your request could not be recorded. Please ask for a new link, or contact us.',
  expiredTitle: 'This link has expired',
  expiredText: 'For your privacy, links work for a short time only. Nothing was requested. Ask for a new link.',
  usedTitle: 'This link was already used',
  usedText: 'Each link works once, and this one has already confirmed a request. Nothing new was requested.',
  unknownTitle: 'This link is not valid',
  unknownText: 'It may be incomplete. Nothing was requested. Ask for a new link.',
  startAgain: 'Ask for a new link',
  sessionTitle: 'Please try again',
  sessionText: 'For your security this form expired before it was sent. Open the page again and send it once more.',
};

const ja: RequestMessages = {
  pageTitle: 'お客様のデータ',
  heading: 'データの開示・消去のご依頼',
  intro: (brand) =>
    `${brand}にご登録のメールアドレスを入力してください。確認用のリンクをお送りします。リンクを開いて確認されるまで、ご依頼は受け付けられません。`,
  emailLabel: 'メールアドレス',
  emailHint: 'このご依頼の確認と、完了のお知らせにのみ使用します。',
  kindLegend: 'ご依頼の内容',
  kindExport: { title: 'データの写しを受け取る', text: '当社が保管するお客様のデータすべて(JSON と CSV)。' },
  kindErase: { title: 'データを消去する', text: 'すべてのシステムからお客様の個人データを削除します。' },
  submit: 'リンクを送信',
  invalidEmail: '正しいメールアドレスを入力してください。',
  sentTitle: 'メールをご確認ください',
  sentText: (minutes) =>
    `入力されたアドレスにリンクをお送りしました。${minutes}分以内にリンクを開いてご依頼を確定してください。リンクは一度だけ使えます。メールが届かない場合は、アドレスをご確認のうえもう一度お試しください。`,
  tooManyTitle: 'ご依頼が多すぎます',
  tooManyText: 'プライバシー保護のため、ご依頼の回数を制限しています。しばらくしてからもう一度お試しください。',
  mailFailedTitle: 'リンクを送信できませんでした',
  mailFailedText: '現在メールを送信できません。ご依頼は受け付けられていません。数分後にもう一度お試しください。',
  confirmTitle: 'ご依頼の確認',
  confirmExport: '当社が保管するお客様の個人データの写しをご依頼いただきました。確認すると手続きを開始します。',
  confirmErase: (brand) =>
    `${brand}および当社が利用するすべてのシステムから、お客様の個人データの消去をご依頼いただきました。元に戻すことはできません。`,
  confirmButton: 'ご依頼を確定する',
  doneTitle: 'ご依頼を受け付けました',
  doneText: 'すべてのシステムで手続きを進めています。完了しましたら、遅くとも1か月以内にメールでお知らせします。',
  reference: (id) => `受付番号: ${id}`,
  failedText: 'ご依頼を受け付けられませんでした。新しいリンクをご依頼いただくか、お問い合わせください。',
  expiredTitle: 'このリンクは有効期限切れです',
  expiredText:
    'プライバシー保護のため、リンクの有効期間は短く設定されています。ご依頼は受け付けられていません。新しいリンクをご依頼ください。',
  usedTitle: 'このリンクは使用済みです',
  usedText: 'リンクは一度だけ使えます。このリンクではすでにご依頼を受け付けました。新たなご依頼は受け付けられていません。',
  unknownTitle: 'このリンクは無効です',
  unknownText: 'リンクが途中で切れている可能性があります。ご依頼は受け付けられていません。新しいリンクをご依頼ください。',
  startAgain: '新しいリンクを依頼',
  sessionTitle: 'もう一度お試しください',
  sessionText: 'セキュリティのため、送信前にフォームの有効期限が切れました。ページを開き直して、もう一度送信してください。',
};

export const REQUEST_MESSAGES: Record<Locale, RequestMessages> = { en, ja };
