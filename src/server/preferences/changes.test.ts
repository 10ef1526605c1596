import { describe, expect, it } from 'vitest';
import { Catalog } from '../../config/schema.js';
import { MergePolicy } from '../../profile/schema.js';
import type { Profile } from '../../profile/schema.js';
import { formValues, preferenceChanges } from './changes.js';

const catalog = Catalog.parse({
  channels: { email: { title: 'E-mail' }, sms: { title: 'SMS' } },
  purposes: {
    marketing: { title: 'Marketing', notice: { text: 'n', version: 'v7' }, objection: 'directMarketing', channels: ['email', 'sms'] },
    service: { title: 'Service', notice: { text: 'n', version: 's1' }, channels: ['email'] },
  },
  topics: { newsletter: { title: 'News' }, offers: { title: 'Offers' } },
});
const policy = MergePolicy.parse({ purposes: { marketing: { objection: 'directMarketing' }, service: {} } });
const T = '2026-01-01T00:00:00.000Z';
const NOW = new Date('2026-02-01T00:00:00.000Z');
const stamp = { at: T, source: 'crm' };
const slot = (value: 'granted' | 'denied', extra: Record<string, string> = {}) => ({
  value,
  ...stamp,
  legalBasis: 'consent' as const,
  evidence: { method: 'import' },
  ...extra,
});

function profile(over: Partial<Profile> = {}): Profile {
  return {
    id: 'p1',
    identities: [{ kind: 'email', value: 'a@example.com', ...stamp }],
    attributes: {},
    consents: { marketing: { email: slot('granted') } },
    subscriptions: { newsletter: { value: true, ...stamp } },
    rights: { objections: {} },
    version: 1,
    ...over,
  };
}

const evidence = { ip: '192.0.2.1', userAgent: 'UA', reference: 'preference_center:1' };

describe('preferenceChanges', () => {
  it('turns unticked granted boxes into denials and ticked new ones into grants, with the notice version as evidence', () => {
    const changes = preferenceChanges(
      profile(),
      catalog,
      policy,
      { consents: new Set(['marketing.sms']), topics: new Set(['newsletter', 'offers']) },
      evidence,
      NOW,
    );
    expect(changes.consents).toEqual({
      marketing: {
        email: { status: 'denied', evidence: { method: 'preference_center', noticeVersion: 'v7', noticeLocale: 'en', ...evidence } },
        sms: { status: 'granted', evidence: { method: 'preference_center', noticeVersion: 'v7', noticeLocale: 'en', ...evidence } },
      },
    });
    expect(changes.subscriptions).toEqual({ offers: true });
    expect(changes.count).toEqual({ consents: 2, topics: 1 });
  });

  it("records the notice the person read: the page's locale and that locale's version, or the default one where it has no translation", () => {
    const bilingual = Catalog.parse({
      locales: ['en', 'ja'],
      fallback: 'defaultLocale',
      channels: { email: { title: 'E-mail' } },
      purposes: {
        marketing: { title: 'M', notice: { text: { en: 'n', ja: 'お知らせ' }, version: { en: 'v7', ja: 'v7-ja' } }, channels: ['email'] },
        service: { title: 'S', notice: { text: 'n', version: 's1' }, channels: ['email'] },
      },
    });
    const changes = preferenceChanges(
      profile({ consents: {}, subscriptions: {} }),
      bilingual,
      policy,
      { consents: new Set(['marketing.email', 'service.email']), topics: new Set() },
      evidence,
      NOW,
      'ja',
    );
    expect(changes.consents['marketing']?.['email']?.evidence).toMatchObject({ noticeLocale: 'ja', noticeVersion: 'v7-ja' });
    expect(changes.consents['service']?.['email']?.evidence).toMatchObject({ noticeLocale: 'en', noticeVersion: 's1' });
  });

  it('treats an unticked box for something never chosen as no change', () => {
    const changes = preferenceChanges(
      profile({ consents: {}, subscriptions: {} }),
      catalog,
      policy,
      { consents: new Set(), topics: new Set() },
      evidence,
      NOW,
    );
    expect(changes.count).toEqual({ consents: 0, topics: 0 });
  });

  it('leaves purposes blocked by an objection or a restriction alone', () => {
    const objecting = profile({ rights: { objections: { directMarketing: { value: true, ...stamp } } } });
    expect(
      preferenceChanges(objecting, catalog, policy, { consents: new Set(), topics: new Set(['newsletter']) }, evidence, NOW).count,
    ).toEqual({ consents: 0, topics: 0 });
    const restricted = profile({ rights: { restricted: { value: true, ...stamp }, objections: {} } });
    expect(
      preferenceChanges(
        restricted,
        catalog,
        policy,
        { consents: new Set(['service.email']), topics: new Set(['newsletter']) },
        evidence,
        NOW,
      ).count.consents,
    ).toBe(0);
  });

  it('counts a ticked box over an expired grant as a new grant', () => {
    const expired = profile({ consents: { marketing: { email: slot('granted', { expiresAt: T }) } } });
    const changes = preferenceChanges(
      expired,
      catalog,
      policy,
      { consents: new Set(['marketing.email']), topics: new Set(['newsletter']) },
      evidence,
      NOW,
    );
    expect(changes.consents['marketing']?.['email']?.status).toBe('granted');
  });

  it('reads repeated form fields', () => {
    expect(formValues('a')).toEqual(new Set(['a']));
    expect(formValues(['a', 'b', 3])).toEqual(new Set(['a', 'b']));
    expect(formValues(undefined)).toEqual(new Set());
  });
});
