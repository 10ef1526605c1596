import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExternalRecord } from '../../src/connector/define.js';
import { compileMapping, mapInbound, mapOutbound } from '../../src/connector/mapping.js';
import { LegalBasis, MergePolicy, type Json, type Profile } from '../../src/profile/schema.js';
import { HubSpotConfig, SubscriptionType } from './config.js';
import hubspot from './connector.js';
import {
  fromPropertyValue,
  hubspotDefaultMappings,
  statusFieldValue,
  statusToWrite,
  subscriptionField,
  subscriptionIdOf,
  subscriptionMappings,
  toHubSpotLegalBasis,
  toPropertyValue,
} from './mapping.js';

const AT = '2026-11-29T10:00:00.000Z';
const subscriptions = [
  SubscriptionType.parse({ id: 101, consent: 'marketing.email' }),
  SubscriptionType.parse({ id: 103, topic: 'newsletter' }),
];
const mapping = compileMapping({ defaultMappings: hubspotDefaultMappings }, subscriptionMappings(subscriptions));
const policy = MergePolicy.parse({ purposes: { marketing: {} } });

/** What HubSpot does to pushed fields before a pull reads them back. */
function throughHubSpot(fields: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, value] of Object.entries(fields)) {
    out[name] = subscriptionIdOf(name) === undefined ? fromPropertyValue(toPropertyValue(value)) : statusFieldValue(statusToWrite(value));
  }
  return out;
}

const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && s.length > 0);

const profileArb = fc.record({
  email: fc.emailAddress(),
  firstName: text,
  lastName: fc.option(text, { nil: undefined }),
  consent: fc.option(fc.constantFrom('granted' as const, 'denied' as const), { nil: undefined }),
  newsletter: fc.option(fc.boolean(), { nil: undefined }),
});

type ProfileInput = typeof profileArb extends fc.Arbitrary<infer T> ? T : never;

function profileOf(p: ProfileInput): Profile {
  const stamped = <T>(value: T) => ({ value, at: AT, source: 'admin' });
  return {
    id: 'p1',
    identities: [{ kind: 'email', value: p.email.toLowerCase(), at: AT, source: 'admin' }],
    attributes: {
      firstName: stamped<Json>(p.firstName),
      ...(p.lastName === undefined ? {} : { lastName: stamped<Json>(p.lastName) }),
    },
    consents:
      p.consent === undefined
        ? {}
        : { marketing: { email: { ...stamped(p.consent), legalBasis: 'consent', evidence: { method: 'form' } } } },
    subscriptions: p.newsletter === undefined ? {} : { newsletter: stamped(p.newsletter) },
    rights: { objections: {} },
    version: 1,
  };
}

describe('HubSpot mapping round trips (property-based)', () => {
  it('a profile mapped out, stored by HubSpot and pulled back gives the same values', () => {
    fc.assert(
      fc.property(profileArb, (p) => {
        const out = mapOutbound(mapping, profileOf(p), policy);
        expect(out.errors).toEqual([]);
        const record: ExternalRecord = { externalId: '501', at: AT, fields: throughHubSpot(out.fields) };
        const back = mapInbound(mapping, record, { source: 'hubspot', receivedAt: AT, patchId: 'x' });
        expect(back.errors).toEqual([]);
        const { patch } = back;
        expect(patch.identities).toContainEqual({ kind: 'email', value: p.email.toLowerCase() });
        expect(patch.attributes.firstName).toBe(p.firstName);
        expect(patch.attributes.lastName).toBe(p.lastName);
        expect(patch.consents.marketing?.email?.status).toBe(p.consent);
        expect(patch.subscriptions.newsletter).toBe(p.newsletter);
      }),
      { numRuns: 300 },
    );
  });

  it('property values survive HubSpot’s string storage; a cleared value comes back as null', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(fromPropertyValue(toPropertyValue(s))).toBe(s);
      }),
    );
    expect(toPropertyValue(null)).toBe('');
    expect(fromPropertyValue('')).toBeNull();
    expect(toPropertyValue(['a', 'b'])).toBe('a;b');
  });

  it('subscription fields name their type id both ways, and only those', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (id) => {
        expect(subscriptionIdOf(subscriptionField(id))).toBe(id);
      }),
    );
    expect(subscriptionIdOf('firstname')).toBeUndefined();
    expect(subscriptionIdOf('subscription:12x')).toBeUndefined();
  });

  it('NOT_SPECIFIED reads as no value, and no value writes as NOT_SPECIFIED', () => {
    expect(statusFieldValue('NOT_SPECIFIED')).toBeNull();
    expect(statusToWrite(null)).toBe('NOT_SPECIFIED');
    expect(statusToWrite(statusFieldValue('UNSUBSCRIBED'))).toBe('UNSUBSCRIBED');
  });
});

describe('legal basis', () => {
  it('maps the canonical bases to HubSpot’s, naming Art. 6 where HubSpot has no equivalent', () => {
    expect(toHubSpotLegalBasis('consent')).toEqual({ legalBasis: 'CONSENT_WITH_NOTICE' });
    expect(toHubSpotLegalBasis('contract')).toEqual({ legalBasis: 'PERFORMANCE_OF_CONTRACT' });
    expect(toHubSpotLegalBasis('legitimate_interest')).toEqual({ legalBasis: 'LEGITIMATE_INTEREST_OTHER' });
    for (const basis of LegalBasis.options) {
      const mapped = toHubSpotLegalBasis(basis);
      if (['legal_obligation', 'vital_interest', 'public_task'].includes(basis)) expect(mapped.article).toMatch(/^GDPR Art\. 6\(1\)/);
      else expect(mapped.article).toBeUndefined();
    }
  });
});

describe('the mapping entries the subscription types imply (derivedMappings)', () => {
  const config = HubSpotConfig.parse({
    accessToken: 'pat',
    webhookSecret: 'secret',
    subscriptions: [
      { id: 101, consent: 'marketing.email' },
      { id: 103, topic: 'newsletter', legalBasis: 'CONSENT_WITH_NOTICE' },
    ],
  });

  it('map each status to its consent or topic, each at the key that names it (what the YAML wrote by hand before)', () => {
    expect(hubspot.derivedMappings?.(config)).toEqual([
      {
        path: ['subscriptions', 0, 'consent'],
        entry: {
          consent: 'marketing.email',
          external: 'subscription:101',
          transform: [{ type: 'map', values: { granted: 'SUBSCRIBED', denied: 'UNSUBSCRIBED' } }],
        },
      },
      {
        path: ['subscriptions', 1, 'topic'],
        entry: {
          topic: 'newsletter',
          external: 'subscription:103',
          transform: [{ type: 'map', values: { true: 'SUBSCRIBED', false: 'UNSUBSCRIBED' } }],
        },
      },
    ]);
    expect(subscriptionMappings(config.subscriptions)).toEqual(hubspot.derivedMappings?.(config).map((d) => d.entry));
  });

  it('compile to a consent a SUBSCRIBED status grants and an UNSUBSCRIBED one withdraws', () => {
    const derived = compileMapping(
      hubspot,
      hubspot.derivedMappings?.(config).map((d) => d.entry),
    );
    const consent = derived.entries.find((e) => e.external === 'subscription:101');
    expect(consent).toMatchObject({ key: 'consent:marketing.email', direction: 'both', withdrawOnly: false });
    expect(consent?.chain.toCanonical('SUBSCRIBED')).toEqual({ ok: true, value: true });
    expect(consent?.chain.toCanonical('UNSUBSCRIBED')).toEqual({ ok: true, value: false });
  });

  it('are none without subscription types', () => {
    expect(hubspot.derivedMappings?.(HubSpotConfig.parse({ accessToken: 'pat', webhookSecret: 'secret' }))).toEqual([]);
  });
});
