import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import type { LoadOptions, LoadResult } from './load.js';
import { noticeIn, textIn } from './localized.js';
import { fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

const options: LoadOptions = { connectors: fakeConnectors, env: testEnv };

/** The hub block (lines 1-7) and a catalog whose header the test writes (from line 8). */
function load(catalog: string, connectors = ''): LoadResult {
  return parseConfig(`${MINIMAL_HUB_YAML}${catalog}${connectors}`, 'inline.yaml', options);
}

function errorsOf(result: LoadResult): string[] {
  if (result.ok) throw new Error('expected the config to be invalid');
  return result.errors.map(String);
}

function configOf(result: LoadResult) {
  if (!result.ok) throw new Error(`expected a valid config:\n${result.errors.join('\n')}`);
  return result.config;
}

const PURPOSES = `  purposes:
    marketing:
      title: { en: Marketing, ja: マーケティング }
      notice:
        text: { en: We would like to write to you., ja: ご連絡したいと考えています。 }
        version: { en: "2025-01", ja: "2025-01-ja" }
      channels: [email]
`;

describe('catalog texts per locale', () => {
  it('takes a plain string as the default locale text, as before (locales default to [defaultLocale])', () => {
    const config = configOf(
      load(`catalog:
  channels: { email: { title: E-mail } }
  purposes:
    marketing:
      title: Marketing
      notice: { text: We would like to write to you., version: "1" }
      channels: [email]
`),
    );
    expect(config.catalog).toMatchObject({ locales: ['en'], defaultLocale: 'en', fallback: 'none' });
    expect(config.catalog.purposes['marketing']?.title).toBe('Marketing');
    expect(textIn('Marketing', 'ja', 'en')).toEqual({ text: 'Marketing', locale: 'en' });
  });

  it('takes a map locale -> text and reads each locale', () => {
    const config = configOf(
      load(`catalog:
  locales: [en, ja]
  channels: { email: { title: { en: E-mail, ja: メール } } }
${PURPOSES}`),
    );
    const purpose = config.catalog.purposes['marketing'];
    if (purpose === undefined) throw new Error('no purpose');
    expect(textIn(purpose.title, 'ja', 'en')).toEqual({ text: 'マーケティング', locale: 'ja' });
    expect(noticeIn(purpose.notice, 'ja', 'en')).toEqual({ text: 'ご連絡したいと考えています。', locale: 'ja', version: '2025-01-ja' });
    expect(noticeIn(purpose.notice, 'en', 'en')).toEqual({ text: 'We would like to write to you.', locale: 'en', version: '2025-01' });
  });

  it('names a missing translation with its place in the file', () => {
    const errors = errorsOf(
      load(`catalog:
  locales: [en, ja]
  channels: { email: { title: E-mail } }
  purposes:
    marketing:
      title: Marketing
      notice:
        text: { en: We would like to write to you., ja: ご連絡したいと考えています。 }
        version: { en: "2025-01" }
      channels: [email]
`),
    );
    expect(errors).toEqual([
      'inline.yaml:10:31: catalog.channels.email.title: no "ja" text',
      'inline.yaml:13:14: catalog.purposes.marketing.title: no "ja" text',
      'inline.yaml:16:18: catalog.purposes.marketing.notice.version: no "ja" version (the notice has "ja" text)',
    ]);
  });

  it('with fallback: defaultLocale, a missing translation shows the default locale text (which every text needs)', () => {
    const config = configOf(
      load(`catalog:
  locales: [en, ja]
  fallback: defaultLocale
  channels: { email: { title: E-mail } }
${PURPOSES}`),
    );
    const title = config.catalog.channels['email']?.title;
    if (title === undefined) throw new Error('no channel');
    expect(textIn(title, 'ja', 'en')).toEqual({ text: 'E-mail', locale: 'en' });

    const errors = errorsOf(
      load(`catalog:
  locales: [en, ja]
  fallback: defaultLocale
  channels: { email: { title: { ja: メール } } }
${PURPOSES}`),
    );
    expect(errors).toEqual([
      'inline.yaml:11:31: catalog.channels.email.title: no "en" text (the default locale, shown where a translation is missing)',
    ]);
  });

  it('refuses locales the catalog does not list, tags that are not BCP 47, and a default locale outside the list', () => {
    const errors = errorsOf(
      load(`catalog:
  locales: [en, ja, en_GB]
  defaultLocale: fr
  channels: { email: { title: { en: E-mail, ja: メール, de: E-Mail } } }
${PURPOSES}`),
    );
    expect(errors).toEqual([
      'inline.yaml:9:21: catalog.locales[2]: "en_GB" is not a BCP 47 language tag (e.g. en, ja, pt-BR)',
      'inline.yaml:10:18: catalog.defaultLocale: "fr" is not in catalog.locales (en, ja)',
      'inline.yaml:11:54: catalog.channels.email.title.de: "de" is not in catalog.locales (en, ja)',
    ]);
  });

  it('accepts an operator locale (any canonical BCP 47 tag) and asks for its texts too', () => {
    const errors = errorsOf(
      load(`catalog:
  locales: [en, ja, pt-BR]
  channels: { email: { title: { en: E-mail, ja: メール, pt-BR: E-mail } } }
${PURPOSES}`),
    );
    expect(errors).toEqual([
      'inline.yaml:13:14: catalog.purposes.marketing.title: no "pt-BR" text',
      'inline.yaml:15:15: catalog.purposes.marketing.notice.text: no "pt-BR" text',
    ]);
    expect(errorsOf(load(`catalog:\n  locales: [en, pt-br]\n  channels: {}\n  purposes: {}\n`))).toEqual([
      'inline.yaml:9:17: catalog.locales[1]: write the language tag "pt-br" as "pt-BR"',
    ]);
  });

  it('says what a text must be when it is neither a string nor a map', () => {
    expect(errorsOf(load(`catalog:\n  channels: { email: { title: 5 } }\n  purposes: {}\n`))).toEqual([
      'inline.yaml:9:31: catalog.channels.email.title: expected a string or a map, got a number',
    ]);
  });

  it("checks a connector's displayName like a catalog text", () => {
    const errors = errorsOf(
      load(
        `catalog:
  locales: [en, ja]
  channels: { email: { title: { en: E-mail, ja: メール } } }
${PURPOSES}`,
        `connectors:
  crm:
    type: fakecrm
    displayName: Our CRM
    baseUrl: https://crm.example.com
    apiKey: \${env:TEST_CRM_KEY}
`,
      ),
    );
    expect(errors).toEqual(['inline.yaml:21:18: connectors.crm.displayName: no "ja" text']);
  });
});
