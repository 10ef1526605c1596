/** What a retention rule keeps: consent in force, a subscription, a restriction. */
import { describe, expect, it } from 'vitest';
import type { Profile } from '../profile/schema.js';
import { holdsConsent, keptBy } from './retention.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const AT = '2025-01-01T00:00:00.000Z';

function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'p1',
    version: 1,
    identities: [{ kind: 'email', value: 'a@example.com', at: AT, source: 'admin' }],
    attributes: {},
    consents: {},
    subscriptions: {},
    rights: { objections: {} },
    ...overrides,
  };
}

const granted = (expiresAt?: string): Profile['consents'] => ({
  marketing: {
    email: {
      value: 'granted',
      at: AT,
      source: 'preference_center',
      legalBasis: 'consent',
      evidence: { method: 'preference_center' },
      ...(expiresAt ? { expiresAt } : {}),
    },
  },
});

describe('retention rules', () => {
  it('count a grant in force or a subscription as consent, and neither a denial nor an expired grant', () => {
    expect(holdsConsent(profile(), NOW)).toBe(false);
    expect(holdsConsent(profile({ consents: granted() }), NOW)).toBe(true);
    expect(holdsConsent(profile({ consents: granted('2026-07-01T00:00:00.000Z') }), NOW)).toBe(true);
    expect(holdsConsent(profile({ consents: granted('2026-05-01T00:00:00.000Z') }), NOW)).toBe(false);
    const denied = granted();
    if (denied['marketing']?.['email']) denied['marketing']['email'].value = 'denied';
    expect(holdsConsent(profile({ consents: denied }), NOW)).toBe(false);
    expect(holdsConsent(profile({ subscriptions: { newsletter: { value: true, at: AT, source: 'hubspot' } } }), NOW)).toBe(true);
    expect(holdsConsent(profile({ subscriptions: { newsletter: { value: false, at: AT, source: 'hubspot' } } }), NOW)).toBe(false);
  });

  it('never select a restricted person, and select a consenting one only when the rule ignores consent', () => {
    const restricted = profile({ rights: { restricted: { value: true, at: AT, source: 'admin' }, objections: {} } });
    expect(keptBy({ withoutConsent: false }, restricted, NOW)).toBe('restricted');
    expect(keptBy({ withoutConsent: true }, profile({ consents: granted() }), NOW)).toBe('consent');
    expect(keptBy({ withoutConsent: false }, profile({ consents: granted() }), NOW)).toBeNull();
    expect(keptBy({ withoutConsent: true }, profile(), NOW)).toBeNull();
  });
});
