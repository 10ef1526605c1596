import { describe, expect, it } from 'vitest';
import { Catalog } from '../../config/schema.js';
import { MergePolicy } from '../../profile/schema.js';
import type { Profile } from '../../profile/schema.js';
import { interfaceLocale } from './i18n.js';
import { renderPreferencesPage } from './view.js';

/** An operator locale (fr) the interface has no messages for, with a partial translation. */
const catalog = Catalog.parse({
  locales: ['en', 'ja', 'fr'],
  fallback: 'defaultLocale',
  channels: { email: { title: { en: 'E-mail', ja: 'メール', fr: 'Courriel' } } },
  purposes: {
    marketing: {
      title: { en: 'Marketing', ja: 'マーケティング', fr: 'Marketing direct' },
      notice: { text: { en: 'We would like to write to you.', fr: 'Nous aimerions vous écrire.' }, version: { en: '3', fr: '3-fr' } },
      purpose: { en: 'To send you offers.', fr: 'Pour vous envoyer des offres.' },
      channels: ['email'],
    },
  },
  topics: { news: { title: 'News' } },
});

const profile: Profile = {
  id: 'p1',
  identities: [],
  attributes: {},
  consents: {},
  subscriptions: {},
  rights: { objections: {} },
  version: 1,
};

function page(catalogLocale: string): string {
  return renderPreferencesPage({
    locale: interfaceLocale(catalogLocale, catalog.defaultLocale),
    catalogLocale,
    brand: { name: 'Acme', accent: '#1f5f8b' },
    catalog,
    recipients: { marketing: [{ id: 'crm', type: 'http', displayName: { en: 'Our CRM', fr: 'Notre CRM' } }] },
    profile,
    policy: MergePolicy.parse({ purposes: { marketing: {} } }),
    reasons: {},
    formAction: '/preferences/t',
    csrfToken: 'c',
    switchUrl: (l) => `/preferences/t?lang=${l}`,
  });
}

describe('the preferences page in an operator locale', () => {
  it('speaks the default interface language and marks each catalog text with its own language', () => {
    const html = page('fr');
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('Your communication preferences');
    expect(html).toContain('<legend><span lang="fr">Marketing direct</span></legend>');
    expect(html).toContain('<span lang="fr">Courriel</span>');
    expect(html).toContain('<span lang="fr">Nous aimerions vous écrire.</span><small>Notice version 3-fr</small>');
    expect(html).toContain('<li><span lang="fr">Notre CRM</span></li>');
    // The topic has no French text: the default locale's, which is the interface's, unmarked.
    expect(html).toContain('<span>News</span>');
    expect(html).toContain('name="_locale" value="fr"');
    // The switch offers the catalog's locales, each in its own name.
    expect(html).toContain('<span aria-current="true" lang="fr">Français</span>');
    expect(html).toContain('<a href="/preferences/t?lang=ja" lang="ja" hreflang="ja">日本語</a>');
  });

  it('marks a fallback text on a Japanese page as English', () => {
    const html = page('ja');
    expect(html).toContain('<html lang="ja">');
    expect(html).toContain('<legend>マーケティング</legend>');
    expect(html).toContain('<span lang="en">We would like to write to you.</span><small>通知バージョン 3</small>');
    expect(html).toContain('<dd><span lang="en">To send you offers.</span></dd>');
  });
});
