import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gateProfile } from './gate.js';
import { compileMapping, mapOutbound } from '../connector/mapping.js';
import { MergePolicy } from '../profile/schema.js';
import type { ConsentSlot, Profile } from '../profile/schema.js';

const AT = '2026-11-29T10:00:00.000Z';
const NOW = '2026-11-29T12:00:00.000Z';

function slot(value: 'granted' | 'denied', extra: Partial<ConsentSlot> = {}): ConsentSlot {
  return { value, at: AT, source: 'crm', legalBasis: 'consent', evidence: { method: 'form' }, ...extra };
}

function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'p1',
    identities: [{ kind: 'email', value: 'a@example.com', at: AT, source: 'crm' }],
    attributes: { firstName: { value: 'Ada', at: AT, source: 'crm' } },
    consents: { marketing: { email: slot('granted'), sms: slot('denied') }, analytics: { web: slot('granted') } },
    subscriptions: { newsletter: { value: true, at: AT, source: 'crm' } },
    rights: { objections: {} },
    version: 3,
    ...overrides,
  };
}

const policy = MergePolicy.parse({
  purposes: { marketing: { objection: 'directMarketing' }, analytics: { objection: 'profiling' } },
});

const mapping = compileMapping({}, [
  { identity: 'email', external: 'email' },
  { field: 'firstName', external: 'first_name' },
  { consent: 'marketing.email', external: 'email_optin' },
  { consent: 'marketing.sms', external: 'sms_optin' },
  { consent: 'analytics.web', external: 'tracking' },
  { topic: 'newsletter', external: 'newsletter' },
  { right: 'restricted', external: 'restricted' },
  { right: 'objections.directMarketing', external: 'no_marketing' },
]);

/** What the push sends for a profile: gate, then map out. */
function outbound(p: Profile) {
  return mapOutbound(mapping, gateProfile(p).profile, policy, NOW).fields;
}

describe('gateProfile', () => {
  it('passes a profile that is not restricted unchanged', () => {
    const p = profile();
    expect(gateProfile(p)).toEqual({ restricted: false, profile: p });
    expect(outbound(p)).toEqual({
      email: 'a@example.com',
      first_name: 'Ada',
      email_optin: true,
      sms_optin: false,
      tracking: true,
      newsletter: true,
    });
  });

  it('a restricted profile goes out with only its consent and rights, all consent denied', () => {
    const p = profile({ rights: { restricted: { value: true, at: AT, source: 'admin' }, objections: {} } });
    const gated = gateProfile(p);
    expect(gated.restricted).toBe(true);
    expect(gated.profile.rights).toEqual(p.rights);
    expect(outbound(p)).toEqual({ email_optin: false, sms_optin: false, tracking: false, restricted: true });
  });

  it('an active objection denies only the purposes it names', () => {
    const p = profile({ rights: { objections: { directMarketing: { value: true, at: AT, source: 'pc' } } } });
    expect(outbound(p)).toMatchObject({ email_optin: false, sms_optin: false, tracking: true, no_marketing: true, first_name: 'Ada' });
  });

  it('never sends granted while a restriction or the matching objection is active (property)', () => {
    const status = fc.constantFrom('granted' as const, 'denied' as const);
    fc.assert(
      fc.property(status, status, status, fc.boolean(), fc.boolean(), fc.boolean(), (a, b, c, restricted, dm, prof) => {
        const p = profile({
          consents: { marketing: { email: slot(a), sms: slot(b) }, analytics: { web: slot(c) } },
          rights: {
            restricted: { value: restricted, at: AT, source: 'admin' },
            objections: { directMarketing: { value: dm, at: AT, source: 'pc' }, profiling: { value: prof, at: AT, source: 'pc' } },
          },
        });
        const out = outbound(p);
        expect(out['email_optin']).toBe(!(restricted || dm) && a === 'granted');
        expect(out['sms_optin']).toBe(!(restricted || dm) && b === 'granted');
        expect(out['tracking']).toBe(!(restricted || prof) && c === 'granted');
        if (restricted) {
          expect(out).not.toHaveProperty('email');
          expect(out).not.toHaveProperty('first_name');
          expect(out).not.toHaveProperty('newsletter');
        }
      }),
    );
  });
});
