import { describe, expect, it } from 'vitest';
import { compileMapping, mapInbound, mapOutbound } from '../../src/connector/mapping.js';
import { MergePolicy, type Profile } from '../../src/profile/schema.js';
import salesforce from './connector.js';
import { SalesforceConfig } from './config.js';
import { consentField, parseConsentField, parseSalesforceDate, salesforceMappings, soqlDateTime, soqlString } from './mapping.js';

const config = SalesforceConfig.parse({
  clientId: 'id',
  clientSecret: 'secret',
  channelFlags: { HasOptedOutOfEmail: 'marketing.email', DoNotCall: 'marketing.phone' },
  dataUsePurposes: { marketing: 'Marketing: EU' },
  contactPointTypes: { email: 'Email', phone: 'Phone' },
});
const mapping = compileMapping(salesforce, salesforceMappings(config));
const at = '2026-01-10T10:00:00.000Z';

function profile(status: 'granted' | 'denied'): Profile {
  return {
    id: 'p',
    identities: [{ kind: 'email', value: 'ada@example.com', at, source: 'hub' }],
    attributes: { lastName: { value: 'Lovelace', at, source: 'hub' } },
    consents: { marketing: { email: { value: status, at, source: 'hub', legalBasis: 'consent', evidence: { method: 'form' } } } },
    subscriptions: {},
    rights: { restricted: { value: false, at, source: 'hub' }, objections: { directMarketing: { value: true, at, source: 'hub' } } },
    version: 1,
  };
}

describe('Salesforce mapping', () => {
  it('writes the opt-out flag inverted, the consent record as OptIn/OptOut, and the rights to the Individual', () => {
    const out = mapOutbound(mapping, profile('granted'), MergePolicy.parse({}));
    expect(out.errors).toEqual([]);
    expect(out.fields).toEqual({
      Email: 'ada@example.com',
      LastName: 'Lovelace',
      HasOptedOutOfEmail: false,
      'ContactPointTypeConsent:Email:Marketing: EU': 'OptIn',
      'Individual.HasOptedOutProcessing': false,
      'Individual.HasOptedOutSolicit': true,
    });
    expect(mapOutbound(mapping, profile('denied'), MergePolicy.parse({})).fields).toMatchObject({
      HasOptedOutOfEmail: true,
      'ContactPointTypeConsent:Email:Marketing: EU': 'OptOut',
    });
  });

  it('reads them back into consents and rights', () => {
    const { patch, errors } = mapInbound(
      mapping,
      {
        externalId: '0035e0000000001AAA',
        at,
        fields: { DoNotCall: true, 'ContactPointTypeConsent:Email:Marketing: EU': 'OptIn', 'Individual.HasOptedOutProfiling': true },
      },
      { source: 'salesforce', receivedAt: at, patchId: 'x' },
    );
    expect(errors).toEqual([]);
    expect(patch.consents).toEqual({ marketing: { phone: { status: 'denied' }, email: { status: 'granted' } } });
    expect(patch.rights.objections).toEqual({ profiling: true });
  });

  it('reads "not opted out" as no choice: the flags withdraw but never grant, the consent record grants', () => {
    const read = (fields: Record<string, boolean | string>) =>
      mapInbound(mapping, { externalId: '0035e0000000001AAA', at, fields }, { source: 'salesforce', receivedAt: at, patchId: 'x' }).patch
        .consents;
    expect(read({ HasOptedOutOfEmail: false, DoNotCall: false })).toEqual({});
    expect(read({ HasOptedOutOfEmail: true })).toEqual({ marketing: { email: { status: 'denied' } } });
    expect(read({ 'ContactPointTypeConsent:Email:Marketing: EU': 'OptIn' })).toEqual({ marketing: { email: { status: 'granted' } } });
    // A hand-written YAML entry on a flag is withdraw-only all the same.
    const byHand = compileMapping(salesforce, [
      { consent: 'marketing.email', external: 'HasOptedOutOfEmail', transform: [{ type: 'invert' }] },
    ]);
    expect(byHand.entries.find((e) => e.external === 'HasOptedOutOfEmail')?.withdrawOnly).toBe(true);
  });

  it('creates a person opted out of what the hub holds no consent for', () => {
    const none: Profile = { ...profile('granted'), consents: {} };
    const created = mapOutbound(mapping, none, MergePolicy.parse({}), undefined, { creating: true }).fields;
    expect(created).toMatchObject({ HasOptedOutOfEmail: true, DoNotCall: true });
    // No ContactPointTypeConsent is written: it records a choice, and there was none.
    expect(Object.keys(created).filter((k) => k.startsWith('ContactPointTypeConsent:'))).toEqual([]);
  });

  it('names consent fields so a purpose name may hold colons', () => {
    expect(consentField('Email', 'Marketing: EU')).toBe('ContactPointTypeConsent:Email:Marketing: EU');
    expect(parseConsentField('ContactPointTypeConsent:Email:Marketing: EU')).toEqual({ type: 'Email', purposeName: 'Marketing: EU' });
    expect(parseConsentField('HasOptedOutOfEmail')).toBeUndefined();
    expect(parseConsentField('ContactPointTypeConsent:Email')).toBeUndefined();
  });

  it('reads Salesforce date-times and writes SOQL literals', () => {
    expect(parseSalesforceDate('2026-01-15T09:30:00.000+0000')).toBe(Date.parse('2026-01-15T09:30:00.000Z'));
    expect(parseSalesforceDate('2026-01-15T10:30:00.000+0100')).toBe(Date.parse('2026-01-15T09:30:00.000Z'));
    expect(Number.isNaN(parseSalesforceDate(''))).toBe(true);
    expect(soqlDateTime(Date.parse('2026-01-15T09:30:59.999Z'))).toBe('2026-01-15T09:30:59Z');
    expect(soqlString("O'Brien \\ co")).toBe("'O\\'Brien \\\\ co'");
  });
});

describe('the mapping entries the opt-out flags imply (derivedMappings)', () => {
  it('map each flag in channelFlags to its consent, inverted and withdraw-only, at the key that names it', () => {
    expect(salesforce.derivedMappings?.(config)).toEqual([
      {
        path: ['channelFlags', 'HasOptedOutOfEmail'],
        entry: { consent: 'marketing.email', external: 'HasOptedOutOfEmail', transform: [{ type: 'invert' }], withdrawOnly: true },
      },
      {
        path: ['channelFlags', 'DoNotCall'],
        entry: { consent: 'marketing.phone', external: 'DoNotCall', transform: [{ type: 'invert' }], withdrawOnly: true },
      },
    ]);
  });

  it('leave the ContactPointTypeConsents to the YAML (not every purpose applies to every channel); salesforceMappings writes both', () => {
    const derived = salesforce.derivedMappings?.(config).map((d) => d.entry) ?? [];
    expect(derived.some((e) => e.external.startsWith('ContactPointTypeConsent:'))).toBe(false);
    expect(salesforceMappings(config).slice(0, derived.length)).toEqual(derived);
  });

  it('compile withdraw-only: "not opted out" grants nothing', () => {
    const flags = compileMapping(
      salesforce,
      salesforce.derivedMappings?.(config).map((d) => d.entry),
    );
    const read = (fields: Record<string, boolean>) =>
      mapInbound(flags, { externalId: '0035e0000000001AAA', at, fields }, { source: 'salesforce', receivedAt: at, patchId: 'x' }).patch
        .consents;
    expect(flags.entries.filter((e) => e.target.kind === 'consent').every((e) => e.withdrawOnly)).toBe(true);
    expect(read({ HasOptedOutOfEmail: false, DoNotCall: false })).toEqual({});
    expect(read({ DoNotCall: true })).toEqual({ marketing: { phone: { status: 'denied' } } });
  });

  it('are none without channelFlags', () => {
    expect(salesforce.derivedMappings?.(SalesforceConfig.parse({ clientId: 'id', clientSecret: 'secret' }))).toEqual([]);
  });
});
