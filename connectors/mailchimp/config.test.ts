import { describe, expect, it } from 'vitest';
import { apiBaseUrl, dataCenterOf, MailchimpConfig } from './config.js';

const base = { listId: 'a1b2c3d4e5', webhookSecret: 'w'.repeat(32) };

describe('Mailchimp config', () => {
  it('takes the data center from the API key, and a server URL without a path as the API root /3.0', () => {
    expect(dataCenterOf('0123abcd-us21')).toBe('us21');
    expect(apiBaseUrl(MailchimpConfig.parse({ ...base, apiKey: '0123abcd-us21' }))).toBe('https://us21.api.mailchimp.com/3.0');
    expect(apiBaseUrl({ apiKey: 'k', baseUrl: 'http://127.0.0.1:4030' })).toBe('http://127.0.0.1:4030/3.0');
    expect(apiBaseUrl({ apiKey: 'k', baseUrl: 'http://127.0.0.1:4030/' })).toBe('http://127.0.0.1:4030/3.0');
    expect(apiBaseUrl({ apiKey: 'k', baseUrl: 'http://127.0.0.1:4030/3.0/' })).toBe('http://127.0.0.1:4030/3.0');
  });

  it('refuses a key without its data center unless the base URL is given, and a short webhook URL secret', () => {
    const noDc = MailchimpConfig.safeParse({ ...base, apiKey: 'no-suffix' });
    expect(noDc.success).toBe(false);
    expect(noDc.error?.issues[0]?.path).toEqual(['baseUrl']);
    expect(MailchimpConfig.safeParse({ ...base, apiKey: 'no-suffix', baseUrl: 'http://127.0.0.1:4030' }).success).toBe(true);
    expect(MailchimpConfig.safeParse({ ...base, apiKey: 'k-us1', webhookSecret: 'short' }).success).toBe(false);
  });

  // Review finding: with the GDPR "Email" permission mapped to marketing.email beside the status,
  // an unsubscribed member whose permission was still ticked read as a grant.
  it('refuses a marketing permission that carries the consent the member status already carries', () => {
    const both = MailchimpConfig.safeParse({
      ...base,
      apiKey: 'k-us1',
      marketingPermissions: [{ id: 'perm-email', consent: 'marketing.email' }],
    });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]).toMatchObject({ path: ['marketingPermissions', 0, 'consent'] });
    expect(both.error?.issues[0]?.message).toContain('already carried by the member status');
    expect(
      MailchimpConfig.safeParse({ ...base, apiKey: 'k-us1', marketingPermissions: [{ id: 'perm-email', consent: 'marketing.email_gdpr' }] })
        .success,
    ).toBe(true);
  });
});
