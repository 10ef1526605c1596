import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectiveConsent } from '../profile/effective.js';
import { primaryIdentity } from '../profile/identities.js';
import { merge } from '../profile/merge.js';
import { MergePolicy } from '../profile/schema.js';
import type { Json, Profile, ProfileIdentity } from '../profile/schema.js';
import { ConnectorConfigError, MappingValueError } from './errors.js';
import { changedFields, compileMapping, jsonEqual, mapInbound, mapOutbound, tryCompileMapping } from './mapping.js';
import type { MappingEntryInput, Transform } from './mapping-schema.js';

const defaults: MappingEntryInput[] = [
  { identity: 'email', external: 'email' },
  { field: 'firstName', external: 'first_name' },
  { field: 'lastName', external: 'last_name', direction: 'pull' },
  { consent: 'marketing.email', external: 'email_opt_out', transform: [{ type: 'invert' }] },
  { topic: 'newsletter', external: 'newsletter' },
  { right: 'restricted', external: 'do_not_process', direction: 'push' },
  { right: 'objections.profiling', external: 'no_profiling' },
  { field: 'signedUpAt', external: 'signup_ms', transform: [{ type: 'date', format: 'epoch_ms' }] },
];
const def = { defaultMappings: defaults };
const policy = MergePolicy.parse({ purposes: { marketing: { objection: 'directMarketing' } } });
const ctx = { source: 'crm', receivedAt: '2026-05-01T12:00:01.000Z', patchId: 'crm:e1:r1' };
const at = '2026-05-01T12:00:00.000Z';
const stamp = { at: '2026-04-01T00:00:00.000Z', source: 'hub' };

function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'p1',
    identities: [
      { kind: 'email', value: 'ann@example.com', ...stamp },
      { kind: 'email', value: 'second@example.com', ...stamp },
    ],
    attributes: {
      firstName: { value: 'Ann', ...stamp },
      lastName: { value: 'Lee', ...stamp },
      signedUpAt: { value: '2025-01-02T03:04:05.678Z', ...stamp },
    },
    consents: {
      marketing: { email: { value: 'granted', legalBasis: 'consent', evidence: { method: 'form' }, ...stamp } },
    },
    subscriptions: { newsletter: { value: true, ...stamp } },
    rights: { objections: { profiling: { value: false, ...stamp } } },
    version: 3,
    ...overrides,
  };
}

describe('compileMapping', () => {
  it('splits entries into inbound and outbound by direction', () => {
    const m = compileMapping(def);
    expect(m.inbound.map((e) => e.key)).not.toContain('right:restricted');
    expect(m.outbound.map((e) => e.key)).not.toContain('field:lastName');
    expect(m.inboundFields).toContain('email_opt_out');
    expect(m.outboundFields).toContain('do_not_process');
  });

  it('lets a YAML entry replace the default entry with the same canonical target', () => {
    const m = compileMapping(def, [{ field: 'firstName', external: 'given_name', direction: 'push' }]);
    const first = m.entries.filter((e) => e.key === 'field:firstName');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ external: 'given_name', direction: 'push', origin: 'yaml' });
    expect(m.entries).toHaveLength(defaults.length);
  });

  it('adds YAML entries with new targets on top of the defaults', () => {
    const m = compileMapping(def, [{ field: 'locale', external: 'lang', transform: [{ type: 'lowercase' }] }]);
    expect(m.entries).toHaveLength(defaults.length + 1);
    expect(m.entries.find((e) => e.key === 'field:locale')?.invertible).toBe(false);
  });

  it('returns every problem as a value: bad entries, ambiguous maps, two writers of one field', () => {
    const r = tryCompileMapping(def, [
      { field: 'a', topic: 'b', external: 'x' },
      { consent: 'nodot', external: 'y' },
      { field: 'tier', external: 'tier', transform: [{ type: 'map', values: { gold: 'G', platinum: 'G' } }] },
      { field: 'nick', external: 'first_name' },
    ]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.join('\n')).toMatch(/mappings\[0\].*exactly one of/);
    expect(r.issues.join('\n')).toMatch(/mappings\[1\]\.consent/);
    expect(r.issues.join('\n')).toMatch(/mappings\[2\].*one-to-one/);
    expect(r.issues.join('\n')).toMatch(/"first_name" is pushed by both field:firstName and field:nick/);
    expect(() => compileMapping(def, [{ consent: 'nodot', external: 'y' }])).toThrow(ConnectorConfigError);
  });

  it('allows a many-to-one map on a push-only entry', () => {
    const r = tryCompileMapping({}, [
      { field: 'tier', external: 'tier', direction: 'push', transform: [{ type: 'map', values: { gold: 'G', platinum: 'G' } }] },
    ]);
    expect(r.ok).toBe(true);
  });
});

describe('mapInbound', () => {
  const m = compileMapping(def);

  // Chaos (e): a HubSpot contact read after a name edit (modified at 39.187) carried a status
  // set at 38.494; stamped with the contact's time it beat a rep's later opt-out (39.177).
  it("stamps the slots of fields the source times one by one with their own time, not the record's", () => {
    const denied = profile({
      consents: {
        marketing: {
          email: { value: 'denied', legalBasis: 'consent', evidence: { method: 'crm' }, at: '2026-05-01T11:59:59.000Z', source: 'sf' },
        },
      },
    });
    const record = {
      externalId: 'r1',
      at,
      fields: { email_opt_out: false, first_name: 'Annie', newsletter: true },
      fieldsAt: { email_opt_out: '2026-05-01T11:59:58.000Z', newsletter: '2026-05-01T11:00:00.000Z' },
    };
    const { patch } = mapInbound(m, record, ctx);
    expect(patch.slotsAt).toEqual({
      'consents.marketing.email': '2026-05-01T11:59:58.000Z',
      'subscriptions.newsletter': '2026-05-01T11:00:00.000Z',
    });
    const merged = merge(denied, patch, policy).profile;
    expect(merged.consents['marketing']?.['email']).toMatchObject({ value: 'denied', source: 'sf' });
    expect(merged.attributes['firstName']).toMatchObject({ value: 'Annie', at });
    expect(merged.subscriptions['newsletter']).toMatchObject({ value: true, at: '2026-05-01T11:00:00.000Z' });
    // Without its own stamp, the status takes the record's time and wins.
    expect(
      merge(denied, mapInbound(m, { ...record, fieldsAt: {} }, ctx).patch, policy).profile.consents['marketing']?.['email']?.value,
    ).toBe('granted');
  });

  it('maps a record to a patch with identities, attributes, consent, topics and rights', () => {
    const { patch, errors, observed } = mapInbound(
      m,
      {
        externalId: 'r1',
        at,
        fields: {
          email: ' Ann@Example.com ',
          first_name: 'Ann',
          last_name: null,
          email_opt_out: true,
          newsletter: 'false',
          no_profiling: true,
          do_not_process: true,
          signup_ms: '1735787045678',
          unrelated: 'x',
        },
      },
      ctx,
    );
    expect(errors).toEqual([]);
    expect(patch).toEqual({
      id: 'crm:e1:r1',
      source: 'crm',
      at,
      receivedAt: ctx.receivedAt,
      identities: [
        { kind: 'external', system: 'crm', value: 'r1' },
        { kind: 'email', value: 'ann@example.com' },
      ],
      attributes: { firstName: 'Ann', lastName: null, signedUpAt: '2025-01-02T03:04:05.678Z' },
      consents: { marketing: { email: { status: 'denied' } } },
      subscriptions: { newsletter: false },
      // do_not_process is push-only: not read.
      rights: { objections: { profiling: true } },
    });
    expect(observed).not.toHaveProperty('unrelated');
    expect(observed).toMatchObject({ email: ' Ann@Example.com ', do_not_process: true });
  });

  it('changes nothing for absent fields and null consent, topic or identity values', () => {
    const { patch, errors } = mapInbound(m, { externalId: 'r1', at, fields: { email: null, email_opt_out: null, newsletter: null } }, ctx);
    expect(errors).toEqual([]);
    expect(patch.identities).toEqual([{ kind: 'external', system: 'crm', value: 'r1' }]);
    expect(patch.consents).toEqual({});
    expect(patch.subscriptions).toEqual({});
    expect(patch.attributes).toEqual({});
  });

  it('attaches the given consent evidence', () => {
    const evidence = { method: 'webhook', capturedBy: 'crm' };
    const { patch } = mapInbound(m, { externalId: 'r1', at, fields: { email_opt_out: false } }, { ...ctx, evidence });
    expect(patch.consents).toEqual({ marketing: { email: { status: 'granted', evidence } } });
  });

  it('returns typed errors for bad values and still maps the rest of the record', () => {
    const { patch, errors } = mapInbound(
      m,
      {
        externalId: 'r1',
        at,
        fields: { signup_ms: 'last tuesday', email_opt_out: 'maybe', newsletter: 3, email: 'not-an-email', first_name: 'Ann' },
      },
      ctx,
    );
    expect(patch.attributes).toEqual({ firstName: 'Ann' });
    expect(errors.every((e) => e instanceof MappingValueError && e.code === 'invalid_value')).toBe(true);
    expect(errors.map((e) => [e.external, e.problem, e.transform])).toEqual([
      ['email', 'not_an_identity', undefined],
      ['email_opt_out', 'not_a_boolean', 'invert'],
      ['newsletter', 'not_a_boolean', undefined],
      ['signup_ms', 'not_a_date', 'date'],
    ]);
    // Messages never carry the value itself.
    expect(errors.map((e) => e.message).join(' ')).not.toMatch(/tuesday|not-an-email/);
  });

  it('normalizes phone numbers to E.164 and refuses impossible ones', () => {
    const pm = compileMapping({}, [{ identity: 'phone', external: 'mobile' }]);
    const good = mapInbound(pm, { externalId: 'r1', at, fields: { mobile: '+44 20 7946 0958' } }, ctx);
    expect(good.patch.identities).toContainEqual({ kind: 'phone', value: '+442079460958' });
    const bad = mapInbound(pm, { externalId: 'r1', at, fields: { mobile: '12' } }, ctx);
    expect(bad.errors[0]?.problem).toBe('not_an_identity');
  });

  it('with the changed fields given, identities the record holds unchanged and its id are lookup keys', () => {
    const pm = compileMapping(def, [{ identity: 'phone', external: 'mobile' }]);
    const record = { externalId: 'r1', at, fields: { email: 'ann@example.com', mobile: '+44 20 7946 0958', first_name: 'A' } };
    expect(mapInbound(pm, record, { ...ctx, changed: new Set(['mobile', 'first_name']) }).patch.identities).toEqual([
      { kind: 'external', system: 'crm', value: 'r1', lookup: true },
      { kind: 'email', value: 'ann@example.com', lookup: true },
      { kind: 'phone', value: '+442079460958' },
    ]);
    expect(mapInbound(pm, record, ctx).patch.identities.some((i) => i.lookup)).toBe(false);
  });

  // HubSpot, traced in the issue: a phone set in HubSpot at t1, the contact modified by our write
  // of another property at t3, a phone set in Salesforce at t2: stamped t3, HubSpot's older
  // number won the merge.
  it("stamps an identity the source times apart with its own time, not the record's; a lookup key with none", () => {
    const pm = compileMapping(def, [{ identity: 'phone', external: 'mobile' }]);
    const t1 = '2026-05-01T11:00:00.000Z';
    const record = {
      externalId: 'r1',
      at,
      fields: { email: 'ann@example.com', mobile: '+44 20 7946 0958' },
      fieldsAt: { mobile: t1, email: t1 },
    };
    const { patch } = mapInbound(pm, record, { ...ctx, changed: new Set(['mobile']) });
    expect(patch.identities).toEqual([
      { kind: 'external', system: 'crm', value: 'r1', lookup: true },
      { kind: 'email', value: 'ann@example.com', lookup: true },
      { kind: 'phone', value: '+442079460958', at: t1 },
    ]);
    const newer: ProfileIdentity = { kind: 'phone', value: '+442079460999', at: '2026-05-01T11:30:00.000Z', source: 'sf' };
    const merged = merge(profile({ identities: [newer] }), patch, policy).profile;
    expect(primaryIdentity(merged.identities, { kind: 'phone' }, policy)).toEqual(newer);
    expect(merged.identities).toContainEqual({ kind: 'phone', value: '+442079460958', at: t1, source: 'crm' });
    // Without its own stamp it takes the record's time and wins.
    const unstamped = merge(profile({ identities: [newer] }), mapInbound(pm, { ...record, fieldsAt: {} }, ctx).patch, policy).profile;
    expect(primaryIdentity(unstamped.identities, { kind: 'phone' }, policy)?.value).toBe('+442079460958');
  });
});

describe('mapOutbound', () => {
  const m = compileMapping(def);

  it('sends the primary (newest) identity of a kind, not the first', () => {
    const newer = { kind: 'email' as const, value: 'second@example.com', at: '2026-04-02T00:00:00.000Z', source: 'crm' };
    const p = profile();
    expect(mapOutbound(m, { ...p, identities: [p.identities[0]!, newer] }, policy).fields['email']).toBe('second@example.com');
  });

  it('maps push and both entries, taking the primary identity of a kind (on a full tie, the first)', () => {
    const { fields, errors } = mapOutbound(m, profile(), policy);
    expect(errors).toEqual([]);
    expect(fields).toEqual({
      email: 'ann@example.com',
      first_name: 'Ann',
      email_opt_out: false,
      newsletter: true,
      no_profiling: false,
      signup_ms: Date.parse('2025-01-02T03:04:05.678Z'),
    });
  });

  it('sends denied while processing is restricted or the purpose objection is active', () => {
    const restricted = profile({ rights: { restricted: { value: true, ...stamp }, objections: {} } });
    expect(mapOutbound(m, restricted, policy).fields).toMatchObject({ email_opt_out: true, do_not_process: true });
    const objecting = profile({ rights: { objections: { directMarketing: { value: true, ...stamp } } } });
    expect(mapOutbound(m, objecting, policy).fields).toMatchObject({ email_opt_out: true });
  });

  it('sends denied once the consent expired, when now is given', () => {
    const p = profile();
    const slot = p.consents['marketing']?.['email'];
    if (slot) slot.expiresAt = '2026-01-01T00:00:00.000Z';
    expect(mapOutbound(m, p, policy).fields['email_opt_out']).toBe(false);
    expect(mapOutbound(m, p, policy, '2026-06-01T00:00:00.000Z').fields['email_opt_out']).toBe(true);
  });

  it('leaves out targets the profile holds nothing for', () => {
    const { fields } = mapOutbound(
      m,
      profile({ identities: [], attributes: {}, consents: {}, subscriptions: {}, rights: { objections: {} } }),
      policy,
    );
    expect(fields).toEqual({});
  });

  it('returns a typed error for a canonical value a transform cannot write', () => {
    const p = profile({ attributes: { signedUpAt: { value: 'soon', ...stamp } } });
    const { fields, errors } = mapOutbound(m, p, policy);
    expect(fields).not.toHaveProperty('signup_ms');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'invalid_value', direction: 'outbound', problem: 'not_a_date', target: 'field:signedUpAt' });
  });
});

describe('jsonEqual and changedFields', () => {
  it('compares JSON deeply, ignoring key order', () => {
    expect(jsonEqual({ a: [1, { b: 2 }], c: null }, { c: null, a: [1, { b: 2 }] })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined as unknown as Json })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual(null, undefined)).toBe(false);
  });
  it('keeps only the fields that differ from the shadow', () => {
    expect(changedFields({ a: 1, b: 'x', c: [1] }, { a: 1, b: 'y', c: [1] })).toEqual({ b: 'x' });
    expect(changedFields({ a: 1 }, undefined)).toEqual({ a: 1 });
  });
});

// ------------------------------------------------------------------------ property

const boolChainArb = fc.constantFrom<Transform[]>(
  [],
  [{ type: 'invert' }],
  [{ type: 'map', values: { granted: 'OptIn', denied: 'OptOut' } }],
  [{ type: 'invert' }, { type: 'map', values: { true: 'Y', false: 'N' } }],
);
const textChainArb = fc.constantFrom<Transform[]>([], [{ type: 'split', separator: ' ' }]);
const textArb = fc.string({ maxLength: 10 });
const stampedBool = fc.boolean().map((value) => ({ value, ...stamp }));

describe('property: profile -> external -> patch', () => {
  it('gives back the canonical values for every invertible entry', () => {
    fc.assert(
      fc.property(
        fc.record({
          consentChain: boolChainArb,
          topicChain: boolChainArb,
          rightChain: boolChainArb,
          nameChain: textChainArb,
          first: textArb,
          consent: fc.option(fc.constantFrom('granted' as const, 'denied' as const), { nil: undefined }),
          newsletter: fc.option(stampedBool, { nil: undefined }),
          profiling: fc.option(stampedBool, { nil: undefined }),
          restricted: fc.option(stampedBool, { nil: undefined }),
        }),
        (g) => {
          const mapping = compileMapping({}, [
            { identity: 'email', external: 'email' },
            { field: 'firstName', external: 'fn', transform: g.nameChain },
            { consent: 'marketing.email', external: 'mkt', transform: g.consentChain },
            { topic: 'newsletter', external: 'nl', transform: g.topicChain },
            { right: 'objections.profiling', external: 'prof', transform: g.rightChain },
            { right: 'restricted', external: 'restr', transform: g.rightChain },
          ]);
          expect(mapping.entries.every((e) => e.invertible)).toBe(true);
          const p = profile({
            attributes: { firstName: { value: g.first, ...stamp } },
            consents: g.consent
              ? { marketing: { email: { value: g.consent, legalBasis: 'consent', evidence: { method: 'form' }, ...stamp } } }
              : {},
            subscriptions: g.newsletter ? { newsletter: g.newsletter } : {},
            rights: {
              objections: g.profiling ? { profiling: g.profiling } : {},
              ...(g.restricted ? { restricted: g.restricted } : {}),
            },
          });
          const out = mapOutbound(mapping, p, policy);
          expect(out.errors).toEqual([]);
          const back = mapInbound(mapping, { externalId: 'x', at, fields: out.fields }, ctx);
          expect(back.errors).toEqual([]);
          expect(back.patch.identities).toContainEqual({ kind: 'email', value: 'ann@example.com' });
          expect(back.patch.attributes['firstName']).toBe(g.first);
          expect(back.patch.consents['marketing']?.['email']?.status).toBe(effectiveConsent(p, 'marketing', 'email', policy));
          expect(back.patch.subscriptions['newsletter']).toBe(g.newsletter?.value);
          expect(back.patch.rights.objections.profiling).toBe(g.profiling?.value);
          expect(back.patch.rights.restricted).toBe(g.restricted?.value);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------ withdraw-only

describe('withdraw-only consent entries', () => {
  const flag: MappingEntryInput = {
    consent: 'marketing.email',
    external: 'opted_out',
    transform: [{ type: 'invert' }],
    withdrawOnly: true,
  };
  const consentOf = (m: ReturnType<typeof compileMapping>, value: Json) =>
    mapInbound(m, { externalId: 'x', at, fields: { opted_out: value } }, ctx).patch.consents['marketing']?.['email'];

  it('drops a value that would grant, keeps one that withdraws, and still observes both', () => {
    const m = compileMapping({}, [flag]);
    expect(m.entries[0]?.withdrawOnly).toBe(true);
    expect(consentOf(m, false)).toBeUndefined();
    expect(consentOf(m, 'false')).toBeUndefined();
    expect(consentOf(m, true)).toEqual({ status: 'denied' });
    expect(mapInbound(m, { externalId: 'x', at, fields: { opted_out: false } }, ctx).observed).toEqual({ opted_out: false });
    // Without the option the same entry grants (a positive-evidence field).
    expect(consentOf(compileMapping({}, [{ ...flag, withdrawOnly: false }]), false)).toEqual({ status: 'granted' });
  });

  it('applies to every consent entry on a field the connector names, whatever the YAML says', () => {
    const connector = { withdrawOnlyFields: ['opted_out', /^optout_\d+$/g] };
    const m = compileMapping(connector, [
      { consent: 'marketing.email', external: 'opted_out', transform: [{ type: 'invert' }] },
      { consent: 'marketing.sms', external: 'optout_7', transform: [{ type: 'invert' }] },
      { consent: 'analytics.web', external: 'status', transform: [{ type: 'map', values: { granted: 'IN', denied: 'OUT' } }] },
      { field: 'optout_8', external: 'optout_8' },
    ]);
    expect(Object.fromEntries(m.entries.map((e) => [e.key, e.withdrawOnly]))).toEqual({
      'consent:marketing.email': true,
      'consent:marketing.sms': true,
      'consent:analytics.web': false,
      'field:optout_8': false,
    });
    // A global RegExp is matched without its lastIndex: every record gets the same answer.
    const twice = [1, 2].map(() => mapInbound(m, { externalId: 'x', at, fields: { optout_7: false } }, ctx).patch.consents);
    expect(twice).toEqual([{}, {}]);
    const refused = tryCompileMapping(connector, [{ ...flag, withdrawOnly: false }]);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.issues.join('\n')).toMatch(/opt-out flag.*withdrawOnly cannot be false/);
  });

  it('is refused on anything but a consent entry', () => {
    const result = tryCompileMapping({}, [{ topic: 'newsletter', external: 'nl', withdrawOnly: true }]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.join('\n')).toMatch(/withdrawOnly applies to consent entries only/);
  });

  it('writes the opt-out for a consent the hub does not know only when the record is being created', () => {
    const m = compileMapping({}, [
      { identity: 'email', external: 'email' },
      flag,
      { consent: 'marketing.sms', external: 'sms', transform: [{ type: 'map', values: { granted: 'IN', denied: 'OUT' } }] },
    ]);
    const unknown = profile({ consents: {} });
    expect(mapOutbound(m, unknown, policy, undefined, { creating: true }).fields).toEqual({ email: 'ann@example.com', opted_out: true });
    expect(mapOutbound(m, unknown, policy).fields).toEqual({ email: 'ann@example.com' });
    // A known state is written as it is, creating or not.
    expect(mapOutbound(m, profile(), policy, undefined, { creating: true }).fields['opted_out']).toBe(false);
  });

  it('law: no inbound value of a withdraw-only entry ever yields granted, whatever its transforms', () => {
    const valueArb = fc.oneof(
      fc.boolean(),
      fc.constantFrom('true', 'false', 'Y', 'N', 'OptIn', 'OptOut', 'SUBSCRIBED', ''),
      fc.integer(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(boolChainArb, fc.array(valueArb, { minLength: 1, maxLength: 4 }), (chain, values) => {
        const m = compileMapping({}, [{ consent: 'marketing.email', external: 'v', transform: chain, withdrawOnly: true }]);
        for (const value of values) {
          const { patch } = mapInbound(m, { externalId: 'x', at, fields: { v: value } }, ctx);
          expect(patch.consents['marketing']?.['email']?.status).not.toBe('granted');
        }
      }),
      { numRuns: 300 },
    );
  });
});
