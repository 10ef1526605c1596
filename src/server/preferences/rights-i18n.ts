/** The preference center's words for the person's rights (the actions and the pages they lead to), in English and Japanese. */
import type { Locale } from './i18n.js';

export interface RightsMessages {
  restrictLift: string;
  objectWithdraw: string;
  restrictedBadge: string;
  objectedBadge: string;
  note: string;
  eraseConfirmTitle: string;
  eraseConfirmText(brand: string): string;
  eraseConfirm: string;
  cancel: string;
  requestTitle: string;
  reference(id: string): string;
  exportPreparing: string;
  exportReady(minutes: number): string;
  downloadJson: string;
  downloadCsv: string;
  downloadHtml: string;
  exportFailed: string;
  eraseStarted: string;
  changeStarted: string;
  requestFailed: string;
  back: string;
  downloadExpiredTitle: string;
  downloadExpiredText: string;
}

const en: RightsMessages = {
  restrictLift: 'Lift the restriction',
  objectWithdraw: 'Withdraw my objection',
  restrictedBadge: 'Restricted',
  objectedBadge: 'Objection in force',
  note: 'We answer every request within one month; most are carried out in every system within minutes.',
  eraseConfirmTitle: 'Erase your data?',
  eraseConfirmText: (brand) =>
    `This deletes your personal data from ${brand} and from every system we use, and we will not add you again. It cannot be undone, and this page will stop working.`,
  eraseConfirm: 'Yes, erase my data',
  cancel: 'No, keep my data',
  requestTitle: 'Your request',
  reference: (id) => `Reference: ${id}`,
  exportPreparing: 'We are gathering your data from every system. This page refreshes by itself.',
  exportReady: (minutes) => `Your copy is ready. These links work for ${minutes} minutes; reload this page for new ones.`,
  downloadJson: 'Download (JSON)',
  downloadCsv: 'Download (CSV, for spreadsheets)',
  downloadHtml: 'Download (a page to read)',
  exportFailed: 'We could not read every system. Your copy holds what we could gather; please contact us for the rest.',
  eraseStarted: 'We are erasing your data from every system. Once that is done, this page will stop working.',
  changeStarted: 'Your request is recorded and is being passed on to every system that keeps your details.',
  requestFailed: 'Your request could not be carried out. Please contact us.',
  back: 'Back to your preferences',
  downloadExpiredTitle: 'This download link has expired',
  downloadExpiredText: 'For your privacy, download links work for a short time only. Open your preferences again for a new one.',
};

const ja: RightsMessages = {
  restrictLift: '制限を解除する',
  objectWithdraw: '異議を取り下げる',
  restrictedBadge: '制限中',
  objectedBadge: '異議申し立て中',
  note: 'すべてのご依頼に1か月以内に対応します。ほとんどは数分以内にすべてのシステムに反映されます。',
  eraseConfirmTitle: 'データを消去しますか?',
  eraseConfirmText: (brand) =>
    `${brand}および当社が利用するすべてのシステムからお客様の個人データを削除し、再登録もいたしません。元に戻すことはできず、このページも使えなくなります。`,
  eraseConfirm: 'はい、消去します',
  cancel: 'いいえ、消去しません',
  requestTitle: 'ご依頼',
  reference: (id) => `受付番号: ${id}`,
  exportPreparing: 'すべてのシステムからお客様のデータを集めています。このページは自動で更新されます。',
  exportReady: (minutes) =>
    `写しの準備ができました。リンクの有効期間は${minutes}分です。新しいリンクはこのページを再読み込みしてください。`,
  downloadJson: 'ダウンロード(JSON)',
  downloadCsv: 'ダウンロード(CSV、表計算ソフト用)',
  downloadHtml: 'ダウンロード(読みやすいページ)',
  exportFailed: '一部のシステムを読み取れませんでした。写しには集められたデータが含まれています。残りについてはお問い合わせください。',
  eraseStarted: 'すべてのシステムからお客様のデータを消去しています。完了すると、このページは使えなくなります。',
  changeStarted: 'ご依頼を受け付けました。お客様の情報を保管するすべてのシステムに反映しています。',
  requestFailed: 'ご依頼を処理できませんでした。お問い合わせください。',
  back: '設定に戻る',
  downloadExpiredTitle: 'このダウンロードリンクは有効期限切れです',
  downloadExpiredText:
    'プライバシー保護のため、ダウンロードリンクの有効期間は短く設定されています。設定ページを開き直して新しいリンクを取得してください。',
};

export const RIGHTS_MESSAGES: Record<Locale, RightsMessages> = { en, ja };
