import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildExport } from '../privacy/index.js';
import { sampleInput } from '../privacy/export/testing/fixtures.js';
import { EXPORT_HTML_CSP, exportHtml } from './export-html.js';

describe('the HTML export', () => {
  const page = exportHtml(buildExport(sampleInput()));

  it('shows every section, each live field with its label, the related records, recipients and retention', () => {
    for (const heading of [
      'Your profile',
      'Your consents',
      'Consent receipts',
      'What each system holds now',
      'Recipients',
      'How long we keep it',
      'History',
    ])
      expect(page).toContain(`<h2>${heading}</h2>`);
    expect(page).toContain('<td>firstname</td><td>First &lt;Name&gt;</td><td>Ada</td>');
    expect(page).toContain('subscriptionStatuses');
    expect(page).toContain('No retention rule is configured.');
    expect(page).toContain('Marketing communications (email), may change it');
  });

  it('escapes every value and loads or runs nothing: no script, no external resource, its style allowed by hash', () => {
    expect(page).toContain('Lovelace, &quot;Countess&quot;');
    expect(page).not.toMatch(/<script|<link|<img|src=|href=|url\(/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    expect(EXPORT_HTML_CSP).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(EXPORT_HTML_CSP).toMatch(/^default-src 'none'/);
  });
});
