import { describe, expect, it } from 'vitest';
import { emptyProfile, merge, mergeProfiles } from './merge.js';
import type { ConsentState, MergePolicyInput, Profile, ProfilePatchInput } from './schema.js';
import { MergePolicy, Profile as ProfileSchema, ProfilePatch } from './schema.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

function patch(input: Partial<ProfilePatchInput> & { source: string; at: string }): ProfilePatch {
  return ProfilePatch.parse({ id: `${input.source}@${input.at}`, receivedAt: input.at, ...input });
}

function policy(input: MergePolicyInput = {}): MergePolicy {
  return MergePolicy.parse(input);
}

function apply(patches: ProfilePatch[], pol: MergePolicy, start: Profile = emptyProfile('p1')): Profile {
  return patches.reduce((profile, p) => merge(profile, p, pol).profile, start);
}

const catalog = policy({
  priorities: { salesforce: 10, hubspot: 5, mailchimp: 5 },
  purposes: {
    marketing: { authorities: ['hubspot', 'preference_center'], objection: 'directMarketing' },
    analytics: { policy: 'most-restrictive', objection: 'profiling', defaultLegalBasis: 'legitimate_interest' },
  },
});

describe('emptyProfile', () => {
  it('has version 0, no identities, empty maps and no objections', () => {
    const profile = emptyProfile('abc');
    expect(profile).toEqual({
      id: 'abc',
      identities: [],
      attributes: {},
      consents: {},
      subscriptions: {},
      rights: { objections: {} },
      version: 0,
    });
    expect(ProfileSchema.parse(profile)).toEqual(profile);
  });
});

describe('merge: attributes (last writer wins)', () => {
  it('the later change wins whichever arrives first, and a stale patch changes nothing', () => {
    const early = patch({ source: 'hubspot', at: T(1), attributes: { firstName: 'Ann' } });
    const late = patch({ source: 'hubspot', at: T(2), attributes: { firstName: 'Anna' } });
    const forward = apply([early, late], catalog);
    const backward = merge(apply([late], catalog), early, catalog);
    expect(forward.attributes.firstName).toEqual({ value: 'Anna', at: T(2), source: 'hubspot' });
    expect(backward.profile).toEqual(forward);
    expect(backward.changes).toEqual([]);
  });

  it('on an `at` tie the higher-priority source wins, from either order', () => {
    const sf = patch({ source: 'salesforce', at: T(1), attributes: { lastName: 'Smith' } });
    const hs = patch({ source: 'hubspot', at: T(1), attributes: { lastName: 'Smyth' } });
    expect(apply([sf, hs], catalog).attributes.lastName?.value).toBe('Smith');
    expect(apply([hs, sf], catalog).attributes.lastName?.value).toBe('Smith');
  });

  it('on an `at` and priority tie the greater source id wins, from either order', () => {
    const hs = patch({ source: 'hubspot', at: T(1), attributes: { locale: 'de' } });
    const mc = patch({ source: 'mailchimp', at: T(1), attributes: { locale: 'fr' } });
    expect(apply([hs, mc], catalog).attributes.locale?.source).toBe('mailchimp');
    expect(apply([mc, hs], catalog).attributes.locale?.source).toBe('mailchimp');
  });

  it('unknown sources count as priority 0', () => {
    const known = patch({ source: 'hubspot', at: T(1), attributes: { country: 'DE' } });
    const unknown = patch({ source: 'zzz', at: T(1), attributes: { country: 'FR' } });
    expect(apply([known, unknown], catalog).attributes.country?.value).toBe('DE');
    // with no priorities at all, the source id decides
    expect(apply([known, unknown], policy()).attributes.country?.value).toBe('FR');
  });

  it('null clears a field and the change says so', () => {
    const set = patch({ source: 'hubspot', at: T(1), attributes: { phoneLabel: 'work' } });
    const clear = patch({ source: 'hubspot', at: T(2), attributes: { phoneLabel: null } });
    const result = merge(apply([set], catalog), clear, catalog);
    expect(result.profile.attributes.phoneLabel).toEqual({ value: null, at: T(2), source: 'hubspot' });
    expect(result.changes).toEqual([{ kind: 'attribute', path: 'phoneLabel', from: 'work', to: null, at: T(2), source: 'hubspot' }]);
  });

  it('a later equal value from another source moves the stamp and reports it (needed to converge)', () => {
    const a = patch({ source: 'hubspot', at: T(1), attributes: { firstName: 'Ann' } });
    const b = patch({ source: 'salesforce', at: T(3), attributes: { firstName: 'Ann' } });
    const result = merge(apply([a], catalog), b, catalog);
    expect(result.changes).toEqual([{ kind: 'attribute', path: 'firstName', from: 'Ann', to: 'Ann', at: T(3), source: 'salesforce' }]);
    // Without the moved stamp, a change at T(2) would wrongly beat salesforce's T(3).
    const between = patch({ source: 'hubspot', at: T(2), attributes: { firstName: 'Bob' } });
    expect(merge(result.profile, between, catalog).profile.attributes.firstName?.value).toBe('Ann');
  });

  it('never touches the version', () => {
    const start = { ...emptyProfile('p1'), version: 7 };
    const result = merge(start, patch({ source: 'hubspot', at: T(1), attributes: { a: 1 } }), catalog);
    expect(result.profile.version).toBe(7);
  });
});

describe('merge: duplicates', () => {
  it('a duplicate patch yields no changes and an equal profile', () => {
    const p = patch({
      source: 'hubspot',
      at: T(1),
      identities: [{ kind: 'email', value: 'ann@example.com' }],
      attributes: { firstName: 'Ann', address: { city: 'Berlin', zip: '10115' } },
      consents: { marketing: { email: { status: 'granted' } }, analytics: { web: { status: 'denied' } } },
      subscriptions: { newsletter: true },
      rights: { objections: { profiling: false } },
    });
    const once = merge(emptyProfile('p1'), p, catalog);
    expect(once.changes.length).toBeGreaterThan(0);
    const twice = merge(once.profile, p, catalog);
    expect(twice.changes).toEqual([]);
    expect(twice.profile).toEqual(once.profile);
  });
});

describe('merge: consent', () => {
  const grant = (source: string, at: string, extra: object = {}) =>
    patch({ source, at, consents: { marketing: { email: { status: 'granted', ...extra } } } });
  const deny = (source: string, at: string, extra: object = {}) =>
    patch({ source, at, consents: { marketing: { email: { status: 'denied', ...extra } } } });

  it('the latest action wins: a later grant beats an earlier denial', () => {
    const profile = apply([deny('hubspot', T(1)), grant('preference_center', T(2))], catalog);
    expect(profile.consents.marketing?.email?.value).toBe('granted');
    expect(apply([grant('preference_center', T(2)), deny('hubspot', T(1))], catalog)).toEqual(profile);
  });

  it('granted and denied at the same `at`: denied wins from either order, even against a higher priority', () => {
    const pol = policy({ priorities: { preference_center: 100 }, purposes: catalog.purposes });
    const g = grant('preference_center', T(1));
    const d = deny('hubspot', T(1));
    const gd = apply([g, d], pol);
    const dg = apply([d, g], pol);
    expect(gd.consents.marketing?.email?.value).toBe('denied');
    expect(dg).toEqual(gd);
    // and the grant arriving second is no change at all
    expect(merge(apply([d], pol), g, pol).changes).toEqual([]);
  });

  it('a non-authority cannot grant: the attempt is ignored, reported with its state, and changes nothing', () => {
    const start = apply([deny('hubspot', T(1))], catalog);
    const result = merge(start, grant('salesforce', T(2), { evidence: { method: 'crm_edit', capturedBy: 'agent-7' } }), catalog);
    expect(result.profile).toEqual(start);
    expect(result.changes).toEqual([]);
    expect(result.ignored).toEqual([
      {
        kind: 'consent',
        path: 'marketing.email',
        reason: 'not_authority',
        source: 'salesforce',
        state: {
          value: 'granted',
          at: T(2),
          source: 'salesforce',
          legalBasis: 'consent',
          evidence: { method: 'crm_edit', capturedBy: 'agent-7' },
        },
      },
    ]);
  });

  it('the rest of a patch from a non-authority still applies', () => {
    const p = patch({
      source: 'salesforce',
      at: T(1),
      attributes: { firstName: 'Ann' },
      consents: { marketing: { email: { status: 'granted' } } },
    });
    const result = merge(emptyProfile('p1'), p, catalog);
    expect(result.profile.attributes.firstName?.value).toBe('Ann');
    expect(result.profile.consents).toEqual({});
    expect(result.ignored.map((i) => i.reason)).toEqual(['not_authority']);
  });

  it('a purpose outside a non-empty catalog is ignored as unknown_purpose', () => {
    const p = patch({ source: 'hubspot', at: T(1), consents: { surveys: { email: { status: 'granted' } } } });
    const result = merge(emptyProfile('p1'), p, catalog);
    expect(result.profile.consents).toEqual({});
    expect(result.changes).toEqual([]);
    expect(result.ignored).toMatchObject([{ kind: 'consent', path: 'surveys.email', reason: 'unknown_purpose', source: 'hubspot' }]);
    expect(result.ignored[0]?.state?.value).toBe('granted');
  });

  it('with no purposes declared at all, every purpose is accepted from any source', () => {
    const p = patch({ source: 'anyone', at: T(1), consents: { surveys: { email: { status: 'granted' } } } });
    const result = merge(emptyProfile('p1'), p, policy());
    expect(result.ignored).toEqual([]);
    expect(result.profile.consents.surveys?.email).toEqual({
      value: 'granted',
      at: T(1),
      source: 'anyone',
      legalBasis: 'consent',
      evidence: { method: 'anyone' },
    });
  });

  it('legal basis defaults to the purpose default and evidence to the source; explicit values are kept', () => {
    const implicit = merge(
      emptyProfile('p1'),
      patch({ source: 'web', at: T(1), consents: { analytics: { web: { status: 'granted' } } } }),
      catalog,
    );
    expect(implicit.profile.consents.analytics?.web).toMatchObject({
      legalBasis: 'legitimate_interest',
      evidence: { method: 'web' },
    });
    const explicit = merge(
      emptyProfile('p1'),
      grant('hubspot', T(1), {
        legalBasis: 'contract',
        evidence: { method: 'form', noticeVersion: 'v3', ip: '203.0.113.9' },
        expiresAt: T(59),
      }),
      catalog,
    );
    expect(explicit.profile.consents.marketing?.email).toEqual({
      value: 'granted',
      at: T(1),
      source: 'hubspot',
      legalBasis: 'contract',
      evidence: { method: 'form', noticeVersion: 'v3', ip: '203.0.113.9' },
      expiresAt: T(59),
    });
  });

  it('a consent change carries the full previous and new states', () => {
    const first = grant('hubspot', T(1), { evidence: { method: 'form', noticeVersion: 'v1' } });
    const second = deny('preference_center', T(2), { evidence: { method: 'preference_center', reference: 'req-9' } });
    const result = merge(apply([first], catalog), second, catalog);
    const from: ConsentState = {
      value: 'granted',
      at: T(1),
      source: 'hubspot',
      legalBasis: 'consent',
      evidence: { method: 'form', noticeVersion: 'v1' },
    };
    const to: ConsentState = {
      value: 'denied',
      at: T(2),
      source: 'preference_center',
      legalBasis: 'consent',
      evidence: { method: 'preference_center', reference: 'req-9' },
    };
    expect(result.changes).toEqual([{ kind: 'consent', path: 'marketing.email', from, to, at: T(2), source: 'preference_center' }]);
  });
});

describe('merge: most-restrictive purposes', () => {
  const report = (source: string, at: string, status: 'granted' | 'denied') =>
    patch({ source, at, consents: { analytics: { web: { status } } } });

  it('resolves to denied while any source’s latest report is a denial, in any order', () => {
    const patches = [report('segment', T(1), 'granted'), report('hubspot', T(2), 'denied'), report('segment', T(3), 'granted')];
    const profile = apply(patches, catalog);
    const slot = profile.consents.analytics?.web;
    expect(slot?.value).toBe('denied');
    expect(slot?.source).toBe('hubspot');
    expect(slot?.bySource?.segment?.value).toBe('granted');
    expect(slot?.bySource?.segment?.at).toBe(T(3));
    expect(apply([...patches].reverse(), catalog)).toEqual(profile);
  });

  it('becomes granted once the denying source grants again', () => {
    const denied = apply([report('segment', T(3), 'granted'), report('hubspot', T(2), 'denied')], catalog);
    const result = merge(denied, report('hubspot', T(4), 'granted'), catalog);
    expect(result.profile.consents.analytics?.web?.value).toBe('granted');
    expect(result.profile.consents.analytics?.web?.source).toBe('hubspot');
    expect(result.changes).toHaveLength(1);
    expect(result.changes[0]).toMatchObject({ from: { value: 'denied' }, to: { value: 'granted' } });
  });

  it('an outvoted grant is stored per source and reported, while `to` stays the state in force', () => {
    const denied = apply([report('hubspot', T(2), 'denied')], catalog);
    const result = merge(denied, report('segment', T(5), 'granted'), catalog);
    const inForce = denied.consents.analytics?.web;
    expect(result.profile.consents.analytics?.web?.value).toBe('denied');
    expect(result.changes).toHaveLength(1);
    const change = result.changes[0];
    expect(change?.from).toEqual(change?.to);
    expect(change?.to).toMatchObject({ value: 'denied', source: 'hubspot', at: inForce?.at });
    expect(change?.reported).toMatchObject({ value: 'granted', source: 'segment', at: T(5) });
    expect(change?.source).toBe('segment');
  });

  it('an older report from a source is stale against its own newer report', () => {
    const profile = apply([report('hubspot', T(4), 'granted')], catalog);
    const result = merge(profile, report('hubspot', T(2), 'denied'), catalog);
    expect(result.changes).toEqual([]);
    expect(result.profile.consents.analytics?.web?.value).toBe('granted');
  });
});

describe('merge: future timestamps', () => {
  it('an `at` one hour ahead of receipt is clamped to receivedAt (default 5-minute skew)', () => {
    const received = T(0);
    const hourAhead = new Date(Date.parse(received) + 3_600_000).toISOString();
    const p = patch({
      source: 'hubspot',
      at: hourAhead,
      receivedAt: received,
      attributes: { firstName: 'Ann' },
      consents: { marketing: { email: { status: 'granted' } } },
    });
    const result = merge(emptyProfile('p1'), p, catalog);
    expect(result.profile.attributes.firstName?.at).toBe(received);
    expect(result.profile.consents.marketing?.email?.at).toBe(received);
    expect(result.changes.every((c) => c.at === received)).toBe(true);
    // a later real change (at T(10)) now beats it, as it would have without the clock error
    const later = patch({ source: 'salesforce', at: T(10), attributes: { firstName: 'Anna' } });
    expect(merge(result.profile, later, catalog).profile.attributes.firstName?.value).toBe('Anna');
  });

  it('an `at` within the skew is kept, and the skew is configurable', () => {
    const fourMinutesAhead = T(4);
    const p = patch({ source: 'hubspot', at: fourMinutesAhead, receivedAt: T(0), attributes: { x: 1 } });
    expect(merge(emptyProfile('p1'), p, catalog).profile.attributes.x?.at).toBe(fourMinutesAhead);
    const strict = policy({ skewMs: 60_000 });
    expect(merge(emptyProfile('p1'), p, strict).profile.attributes.x?.at).toBe(T(0));
  });
});

describe('merge: identities, subscriptions, rights', () => {
  it('identities are a set union in a deterministic order; new ones, and ones set again later, are changes', () => {
    const a = patch({
      source: 'hubspot',
      at: T(1),
      identities: [
        { kind: 'phone', value: '+4930123456' },
        { kind: 'email', value: 'ann@example.com' },
        { kind: 'external', value: '42', system: 'hubspot' },
      ],
    });
    const b = patch({
      source: 'salesforce',
      at: T(2),
      identities: [
        { kind: 'email', value: 'ann@example.com' },
        { kind: 'external', value: '003XYZ', system: 'salesforce' },
      ],
    });
    const first = merge(emptyProfile('p1'), a, catalog);
    const second = merge(first.profile, b, catalog);
    const hubspot = { at: T(1), source: 'hubspot' };
    const salesforce = { at: T(2), source: 'salesforce' };
    expect(second.profile.identities).toEqual([
      { kind: 'email', value: 'ann@example.com', ...salesforce },
      { kind: 'external', value: '42', system: 'hubspot', ...hubspot },
      { kind: 'external', value: '003XYZ', system: 'salesforce', ...salesforce },
      { kind: 'phone', value: '+4930123456', ...hubspot },
    ]);
    expect(second.changes).toEqual([
      {
        kind: 'identity',
        path: 'email:ann@example.com',
        from: { kind: 'email', value: 'ann@example.com', ...hubspot },
        to: { kind: 'email', value: 'ann@example.com', ...salesforce },
        ...salesforce,
      },
      {
        kind: 'identity',
        path: 'external:salesforce:003XYZ',
        to: { kind: 'external', value: '003XYZ', system: 'salesforce', ...salesforce },
        ...salesforce,
      },
    ]);
    expect(apply([b, a], catalog).identities).toEqual(second.profile.identities);
  });

  it('subscriptions: last writer wins, and an unsubscribe wins a full tie', () => {
    const on = patch({ id: 'x1', source: 'mailchimp', at: T(1), subscriptions: { newsletter: true } });
    const off = patch({ id: 'x2', source: 'mailchimp', at: T(1), subscriptions: { newsletter: false } });
    expect(apply([on, off], catalog).subscriptions.newsletter?.value).toBe(false);
    expect(apply([off, on], catalog).subscriptions.newsletter?.value).toBe(false);
    const later = patch({ source: 'mailchimp', at: T(2), subscriptions: { newsletter: true } });
    expect(apply([off, later], catalog).subscriptions.newsletter?.value).toBe(true);
  });

  it('rights: restriction and objections are last-writer-wins registers; withdrawing is a change', () => {
    const object = patch({ source: 'admin', at: T(1), rights: { restricted: true, objections: { directMarketing: true } } });
    const withdraw = patch({ source: 'admin', at: T(2), rights: { objections: { directMarketing: false } } });
    const first = merge(emptyProfile('p1'), object, catalog);
    expect(first.changes.map((c) => [c.kind, c.path, c.to])).toEqual([
      ['right', 'restricted', true],
      ['right', 'objections.directMarketing', true],
    ]);
    const second = merge(first.profile, withdraw, catalog);
    expect(second.profile.rights).toEqual({
      restricted: { value: true, at: T(1), source: 'admin' },
      objections: { directMarketing: { value: false, at: T(2), source: 'admin' } },
    });
    expect(second.changes).toEqual([
      { kind: 'right', path: 'objections.directMarketing', from: true, to: false, at: T(2), source: 'admin' },
    ]);
  });
});

describe('mergeProfiles', () => {
  const one = apply(
    [
      patch({ source: 'hubspot', at: T(1), identities: [{ kind: 'email', value: 'a@example.com' }], attributes: { firstName: 'Ann' } }),
      patch({ source: 'hubspot', at: T(3), consents: { marketing: { email: { status: 'granted' } } } }),
    ],
    catalog,
    { ...emptyProfile('p1'), version: 4 },
  );
  const two = apply(
    [
      patch({
        source: 'salesforce',
        at: T(2),
        identities: [{ kind: 'phone', value: '+49301234' }],
        attributes: { firstName: 'Anne', lastName: 'Lee' },
      }),
      patch({ source: 'preference_center', at: T(2), consents: { marketing: { email: { status: 'denied' } } } }),
    ],
    catalog,
    { ...emptyProfile('p2'), version: 9 },
  );

  it('joins two profiles of one person under the merge rules, keeping the target id and version', () => {
    const result = mergeProfiles(one, two, catalog);
    expect(result.profile.id).toBe('p1');
    expect(result.profile.version).toBe(4);
    expect(result.profile.identities.map((i) => i.kind)).toEqual(['email', 'phone']);
    expect(result.profile.attributes.firstName?.value).toBe('Anne');
    expect(result.profile.attributes.lastName?.value).toBe('Lee');
    expect(result.profile.consents.marketing?.email?.value).toBe('granted');
    expect(result.ignored).toEqual([]);
    expect(result.changes.map((c) => `${c.kind}:${c.path}`)).toEqual([
      'identity:phone:+49301234',
      'attribute:firstName',
      'attribute:lastName',
    ]);
    expect(result.changes[1]).toMatchObject({ from: 'Ann', to: 'Anne', at: T(2), source: 'salesforce' });
  });

  it('does not depend on which profile is the target', () => {
    const ab = mergeProfiles(one, two, catalog).profile;
    const ba = mergeProfiles(two, one, catalog).profile;
    expect({ ...ba, id: ab.id, version: ab.version }).toEqual(ab);
  });

  it('merging a profile with itself changes nothing', () => {
    const result = mergeProfiles(one, one, catalog);
    expect(result.changes).toEqual([]);
    expect(result.profile).toEqual(one);
  });
});

describe('hostile keys', () => {
  it('`__proto__` as an attribute path, purpose, channel or source is data, not a prototype', () => {
    // zod drops `__proto__` record keys, so build the patch unparsed, as a careless caller might
    const p = JSON.parse(
      '{"id":"x","source":"__proto__","at":"2026-01-01T10:00:00.000Z","receivedAt":"2026-01-01T10:00:00.000Z",' +
        '"identities":[],"rights":{"objections":{}},' +
        '"attributes":{"__proto__":{"__proto__":{"polluted":true}}},' +
        '"consents":{"__proto__":{"__proto__":{"status":"granted"}}},"subscriptions":{"__proto__":true}}',
    ) as ProfilePatch;
    const result = merge(emptyProfile('p1'), p, policy({ priorities: { hubspot: 1 } }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(result.profile.attributes, '__proto__')).toBe(true);
    expect(Object.hasOwn(result.profile.consents, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result.profile.consents)).toBe(Object.prototype);
    expect(result.changes.map((c) => `${c.kind}:${c.path}`)).toEqual([
      'attribute:__proto__',
      'consent:__proto__.__proto__',
      'subscription:__proto__',
    ]);
    expect(merge(result.profile, p, policy()).changes).toEqual([]);
  });
});
