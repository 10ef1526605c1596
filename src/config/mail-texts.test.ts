/** The mails' texts per locale in the YAML (`hub.mail.texts`): checked against `catalog.locales` like every catalog text. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import type { LoadResult } from './load.js';
import { fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

/** The hub block (lines 1-7), its mail (from line 8) and a catalog in `locales`. */
function load(mail: string, locales: string, fallback = '', channel = 'E-mail'): LoadResult {
  return parseConfig(
    `${MINIMAL_HUB_YAML}  mail:
    transport: smtp
    from: Acme Privacy <privacy@acme.example>
    smtp: { host: mail.acme.example }
${mail}catalog:
  locales: ${locales}
${fallback}  channels: { email: { title: ${channel} } }
  purposes: {}
`,
    'inline.yaml',
    { connectors: fakeConnectors, env: testEnv },
  );
}

function errorsOf(result: LoadResult): string[] {
  if (result.ok) throw new Error('expected the config to be invalid');
  return result.errors.map(String);
}

describe('mail texts per locale', () => {
  it('needs no texts for the locales Concord ships (en, ja, and their regional variants)', () => {
    const result = load('', '[en, ja, en-GB]', '', '{ en: E-mail, ja: メール, en-GB: E-mail }');
    expect(result.ok ? [] : result.errors.map(String)).toEqual([]);
  });

  it('names the mails an operator locale lacks, and accepts it once written', () => {
    const channel = '  channels: { email: { title: { en: E-mail, de: E-Mail } } }\n';
    const missing = errorsOf(load('', '[en, de]'));
    expect(missing).toEqual([
      'inline.yaml:8:3: hub.mail: no "de" texts for the mails (Concord ships en and ja): write hub.mail.texts.<mail>.<part>.de for verifyExport.subject, verifyExport.body, verifyErase.subject, verifyErase.body, completedExport.subject, completedExport.body, completedErase.subject, completedErase.body, failedExport.subject, failedExport.body, failedErase.subject, failedErase.body, or set catalog.fallback: defaultLocale',
      'inline.yaml:14:31: catalog.channels.email.title: no "de" text',
    ]);
    const parts = (kind: string): string =>
      `      ${kind}: { subject: { de: "{brand}: Betreff" }, body: { de: "Hallo ${kind.startsWith('verify') ? '{url}' : '{brand}'}" } }\n`;
    const kinds = ['verifyExport', 'verifyErase', 'completedExport', 'completedErase', 'failedExport', 'failedErase'];
    const written = parseConfig(
      `${MINIMAL_HUB_YAML}  mail:\n    transport: smtp\n    from: a@b.example\n    smtp: { host: mail.acme.example }\n    texts:\n${kinds.map(parts).join('')}catalog:\n  locales: [en, de]\n${channel}  purposes: {}\n`,
      'inline.yaml',
      { connectors: fakeConnectors, env: testEnv },
    );
    expect(written.ok ? [] : written.errors.map(String)).toEqual([]);
  });

  it('names a part written without a configured locale, a locale the catalog does not list, and a placeholder the mail has not', () => {
    const errors = errorsOf(
      load(
        `    texts:
      verifyErase:
        subject: { en: "{brand}: confirm", fr: "{brand} : confirmer" }
        body: "Open {link}"
`,
        '[en, ja]',
        '  fallback: defaultLocale\n',
      ),
    );
    expect(errors).toEqual([
      'inline.yaml:14:44: hub.mail.texts.verifyErase.subject.fr: "fr" is not in catalog.locales (en, ja)',
      'inline.yaml:15:15: hub.mail.texts.verifyErase.body: the verifyErase mail must carry {url} (without it the person cannot confirm)',
      'inline.yaml:15:15: hub.mail.texts.verifyErase.body: the verifyErase mail has no placeholder {link} (it has {brand}, {url}, {minutes})',
    ]);
  });

  it('with fallback: defaultLocale, an operator locale without mail texts gets the default locale’s', () => {
    const result = load('', '[en, de]', '  fallback: defaultLocale\n');
    expect(result.ok ? [] : result.errors.map(String)).toEqual([]);
  });
});
