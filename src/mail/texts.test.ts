import { describe, expect, it } from 'vitest';
import { BUILTIN_MAIL_TEXTS, MAIL_KINDS, MAIL_PARTS, MAIL_PLACEHOLDERS, placeholdersIn, renderMail } from './texts.js';

const values = { brand: 'Acme', url: 'https://hub.example/requests/confirm/t', minutes: '60', reference: 'r-1', download: 'https://d' };

describe('mail texts', () => {
  it('ships every mail in en and ja, each using only its own placeholders', () => {
    for (const kind of MAIL_KINDS) {
      for (const locale of ['en', 'ja']) {
        const mail = renderMail({ defaultLocale: 'en' }, kind, locale, values);
        expect(mail.locale).toBe(locale);
        expect(mail.subject).toContain('Acme');
        expect(mail.text).not.toMatch(/\{[a-zA-Z]+\}/);
      }
    }
    for (const kind of MAIL_KINDS) {
      for (const part of MAIL_PARTS) {
        expect(Object.keys(BUILTIN_MAIL_TEXTS[kind][part]).sort()).toEqual(['en', 'ja']);
        for (const template of Object.values(BUILTIN_MAIL_TEXTS[kind][part]))
          for (const name of placeholdersIn(template)) expect(MAIL_PLACEHOLDERS[kind]).toContain(name);
      }
    }
  });

  it('takes the operator’s text in the visitor’s locale, and the shipped one for a part not written', () => {
    const source = { defaultLocale: 'en', texts: { verifyErase: { subject: { de: '{brand}: Löschung bestätigen' } } } };
    const de = renderMail(source, 'verifyErase', 'de', values);
    expect(de.subject).toBe('Acme: Löschung bestätigen');
    // No German body written and none shipped: the default locale's.
    expect(de.text).toContain('erase the personal data');
    expect(renderMail(source, 'verifyErase', 'ja', values).subject).toBe('Acme:データ消去のご確認');
  });

  it('serves a regional variant with its language’s shipped text', () => {
    expect(renderMail({ defaultLocale: 'de' }, 'completedErase', 'en-GB', values).subject).toBe('Acme: your data has been erased');
  });

  it('reads a plain string as the default locale’s text', () => {
    const source = { defaultLocale: 'fr', texts: { completedErase: { subject: '{brand} : données effacées', body: 'Réf. {reference}' } } };
    expect(renderMail(source, 'completedErase', 'fr', values)).toEqual({
      subject: 'Acme : données effacées',
      text: 'Réf. r-1',
      locale: 'fr',
    });
    expect(renderMail(source, 'completedErase', 'en', values).subject).toBe('Acme: your data has been erased');
  });

  it('leaves out a line whose placeholder has no value, with the blank line before it', () => {
    const withLink = renderMail({ defaultLocale: 'en' }, 'completedExport', 'en', values);
    expect(withLink.text).toContain('Download it here (the link works for 24 hours): https://d');
    const without = renderMail({ defaultLocale: 'en' }, 'completedExport', 'en', { brand: 'Acme', reference: 'r-1' });
    expect(without.text).not.toContain('Download');
    expect(without.text).not.toContain('\n\n\n');
    expect(without.text).toContain('Reference: r-1');
  });
});
