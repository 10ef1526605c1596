import { describe, expect, it } from 'vitest';
import { effectiveConsent, explainConsent, isRestricted } from './effective.js';
import { emptyProfile, merge } from './merge.js';
import type { Profile, ProfilePatchInput } from './schema.js';
import { MergePolicy, ProfilePatch } from './schema.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

const policy = MergePolicy.parse({
  purposes: {
    marketing: { authorities: ['preference_center', 'admin'], objection: 'directMarketing' },
    analytics: { objection: 'profiling' },
    service: {},
  },
});

function apply(profile: Profile, input: Partial<ProfilePatchInput> & { source: string; at: string }): Profile {
  const patch = ProfilePatch.parse({ id: `${input.source}@${input.at}`, receivedAt: input.at, ...input });
  return merge(profile, patch, policy).profile;
}

const granted = (at: string, extra: object = {}) => ({
  source: 'preference_center',
  at,
  consents: { marketing: { email: { status: 'granted' as const, ...extra } }, service: { email: { status: 'granted' as const } } },
});

describe('effectiveConsent', () => {
  it('is undefined when nothing is known, and the slot status otherwise', () => {
    const empty = emptyProfile('p1');
    expect(effectiveConsent(empty, 'marketing', 'email', policy)).toBeUndefined();
    const profile = apply(empty, granted(T(1)));
    expect(effectiveConsent(profile, 'marketing', 'email', policy)).toBe('granted');
    expect(effectiveConsent(profile, 'marketing', 'sms', policy)).toBeUndefined();
    const denied = apply(profile, { source: 'admin', at: T(2), consents: { marketing: { email: { status: 'denied' } } } });
    expect(effectiveConsent(denied, 'marketing', 'email', policy)).toBe('denied');
  });

  it('a grant arriving while an objection is active is recorded but stays denied until the objection is withdrawn', () => {
    const objecting = apply(emptyProfile('p1'), { source: 'admin', at: T(1), rights: { objections: { directMarketing: true } } });
    const withGrant = apply(objecting, granted(T(2)));
    expect(withGrant.consents.marketing?.email?.value).toBe('granted');
    expect(effectiveConsent(withGrant, 'marketing', 'email', policy)).toBe('denied');
    expect(explainConsent(withGrant, 'marketing', 'email', policy).reason).toBe('objection');
    // purposes not tied to that objection are unaffected
    expect(effectiveConsent(withGrant, 'service', 'email', policy)).toBe('granted');
    const withdrawn = apply(withGrant, { source: 'admin', at: T(3), rights: { objections: { directMarketing: false } } });
    expect(effectiveConsent(withdrawn, 'marketing', 'email', policy)).toBe('granted');
  });

  it('an objection only blocks the purposes that name it', () => {
    const profile = apply(apply(emptyProfile('p1'), granted(T(1))), {
      source: 'admin',
      at: T(2),
      rights: { objections: { profiling: true } },
    });
    expect(effectiveConsent(profile, 'marketing', 'email', policy)).toBe('granted');
    expect(effectiveConsent(profile, 'analytics', 'web', policy)).toBe('denied');
  });

  it('a restriction denies every purpose while active, even unknown ones', () => {
    const profile = apply(apply(emptyProfile('p1'), granted(T(1))), { source: 'admin', at: T(2), rights: { restricted: true } });
    expect(isRestricted(profile)).toBe(true);
    expect(effectiveConsent(profile, 'marketing', 'email', policy)).toBe('denied');
    expect(effectiveConsent(profile, 'service', 'email', policy)).toBe('denied');
    expect(explainConsent(profile, 'service', 'email', policy).reason).toBe('restricted');
    const lifted = apply(profile, { source: 'admin', at: T(3), rights: { restricted: false } });
    expect(isRestricted(lifted)).toBe(false);
    expect(effectiveConsent(lifted, 'service', 'email', policy)).toBe('granted');
  });

  it('an expired grant is denied only when `now` is given', () => {
    const profile = apply(emptyProfile('p1'), granted(T(1), { expiresAt: T(30) }));
    expect(effectiveConsent(profile, 'marketing', 'email', policy)).toBe('granted');
    expect(effectiveConsent(profile, 'marketing', 'email', policy, T(29))).toBe('granted');
    expect(effectiveConsent(profile, 'marketing', 'email', policy, T(30))).toBe('denied');
    expect(effectiveConsent(profile, 'marketing', 'email', policy, new Date(T(45)))).toBe('denied');
    expect(explainConsent(profile, 'marketing', 'email', policy, T(45)).reason).toBe('expired');
  });
});

describe('isRestricted', () => {
  it('is false for a new profile', () => {
    expect(isRestricted(emptyProfile('p1'))).toBe(false);
  });
});
