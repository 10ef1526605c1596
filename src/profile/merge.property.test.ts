/**
 * Property tests: the merge is a join, so any set of patches gives one profile whatever the
 * order, grouping or repetition. The generators draw from small pools on purpose, to force
 * timestamp ties, priority ties, granted/denied ties, clamped future timestamps, rejected
 * authorities and unknown purposes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { primaryIdentity } from './identities.js';
import { explainMerge } from './explain.js';
import { effectiveAt, emptyProfile, merge, mergeProfiles } from './merge.js';
import { identityKey } from './order.js';
import type { Profile } from './schema.js';
import { MergePolicy, Profile as ProfileSchema, ProfilePatch } from './schema.js';

const RUNS = 300;

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

// crm and cdp share a priority (source id decides), pc is unknown (priority 0).
const policy = MergePolicy.parse({
  priorities: { crm: 2, cdp: 2, mail: 1 },
  purposes: {
    marketing: { authorities: ['crm', 'pc'], objection: 'directMarketing' },
    analytics: { policy: 'most-restrictive', objection: 'profiling' },
    sales: { policy: 'most-restrictive', authorities: ['crm', 'cdp', 'mail'], defaultLegalBasis: 'contract' },
  },
});

const sources = ['crm', 'cdp', 'mail', 'pc'] as const;
// T(4) is within the 5-minute skew of T(0); T(120) is beyond it for every receivedAt.
const ats = [T(0), T(1), T(2), T(3), T(4), T(120)];
const receivedAts = [T(0), T(2), T(3)];

const attributeValue = fc.constantFrom<unknown>('Ann', 'Bob', null, 0, 1, true, ['x', 'y'], { a: 1, b: [1, 2] }, { b: [1, 2], a: 1 });

const consentInput = fc
  .record({
    status: fc.constantFrom('granted', 'denied'),
    legalBasis: fc.constantFrom(undefined, 'consent', 'contract'),
    evidence: fc.constantFrom(undefined, { method: 'form' }, { noticeVersion: 'v2', method: 'form' }),
    expiresAt: fc.constantFrom(undefined, T(60)),
  })
  .map(dropUndefined);

// Lookup keys (a source naming an identity it holds unchanged) must never move a stamp.
const identityPool = [
  { kind: 'email', value: 'ann@example.com' },
  { kind: 'email', value: 'ann@example.com', lookup: true },
  { kind: 'email', value: 'bob@example.com' },
  { kind: 'email', value: 'bob@example.com', lookup: true },
  { kind: 'phone', value: '+4930123456' },
  { kind: 'phone', value: '+4930999999' },
  { kind: 'phone', value: '+4930123456', lookup: true },
  { kind: 'external', value: '42', system: 'crm' },
  { kind: 'external', value: '42', system: 'cdp', lookup: true },
];

const patchArb = fc
  .record({
    source: fc.constantFrom(...sources),
    at: fc.constantFrom(...ats),
    receivedAt: fc.constantFrom(...receivedAts),
    identities: fc.subarray(identityPool, { maxLength: 3 }),
    attributes: fc.dictionary(fc.constantFrom('firstName', 'locale'), attributeValue, { maxKeys: 2 }),
    consents: fc.dictionary(
      fc.constantFrom('marketing', 'analytics', 'sales', 'ghost'),
      fc.dictionary(fc.constantFrom('email', 'sms'), consentInput, { minKeys: 1, maxKeys: 2 }),
      { maxKeys: 2 },
    ),
    subscriptions: fc.dictionary(fc.constantFrom('newsletter', 'offers'), fc.boolean(), { maxKeys: 2 }),
    rights: fc.record({
      restricted: fc.constantFrom(undefined, true, false),
      objections: fc.dictionary(fc.constantFrom('directMarketing', 'profiling'), fc.boolean(), { maxKeys: 2 }),
    }),
    // Slots the source stamps one by one, at times of their own.
    slotsAt: fc.dictionary(
      fc.constantFrom(
        'attributes.firstName',
        'consents.marketing.email',
        'subscriptions.newsletter',
        'rights.restricted',
        'rights.objections.profiling',
      ),
      fc.constantFrom(...ats),
      { maxKeys: 3 },
    ),
  })
  .map((fields) => ProfilePatch.parse({ id: 'generated', ...fields, rights: dropUndefined(fields.rights) }));

const patchesArb = fc.array(patchArb, { minLength: 1, maxLength: 12 });

/** The patches, a permutation of them, and that permutation with some patches repeated. */
const reorderedArb = patchesArb.chain((patches) =>
  fc.tuple(
    fc.constant(patches),
    fc.shuffledSubarray(patches, { minLength: patches.length, maxLength: patches.length }),
    fc.array(fc.tuple(fc.nat(patches.length - 1), fc.nat(patches.length)), { maxLength: 6 }),
  ),
);

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function fold(patches: readonly ProfilePatch[], id = 'p'): Profile {
  return patches.reduce((profile, patch) => merge(profile, patch, policy).profile, emptyProfile(id));
}

function withId(profile: Profile, id = 'p'): Profile {
  return { ...profile, id, version: 0 };
}

describe('merge is a join (property tests)', () => {
  it('any permutation, with duplicates, gives a deep-equal, schema-valid profile', () => {
    fc.assert(
      fc.property(reorderedArb, ([patches, shuffled, repeats]) => {
        const expected = fold(patches);
        const sequence = [...shuffled];
        for (const [which, position] of repeats) sequence.splice(position, 0, patches[which]!);
        expect(fold(shuffled)).toEqual(expected);
        expect(fold(sequence)).toEqual(expected);
        expect(ProfileSchema.parse(expected)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('is associative: partial merges joined with mergeProfiles, in any grouping, equal one sequential merge', () => {
    fc.assert(
      fc.property(
        patchesArb.chain((patches) =>
          fc.tuple(fc.constant(patches), fc.array(fc.nat(2), { minLength: patches.length, maxLength: patches.length })),
        ),
        ([patches, groupOf]) => {
          const groups = [0, 1, 2].map((g) =>
            fold(
              patches.filter((_, i) => groupOf[i] === g),
              `g${g}`,
            ),
          );
          const [a, b, c] = groups as [Profile, Profile, Profile];
          const expected = fold(patches);
          const left = mergeProfiles(mergeProfiles(a, b, policy).profile, c, policy).profile;
          const right = mergeProfiles(a, mergeProfiles(b, c, policy).profile, policy).profile;
          expect(withId(left)).toEqual(expected);
          expect(withId(right)).toEqual(expected);
          // a partial profile can also absorb the remaining patches one by one
          const rest = patches.filter((_, i) => groupOf[i] !== 0);
          expect(withId(rest.reduce((p, patch) => merge(p, patch, policy).profile, a))).toEqual(expected);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is idempotent: re-applying any patch, or joining a profile with itself, changes nothing', () => {
    fc.assert(
      fc.property(patchesArb, (patches) => {
        const profile = fold(patches);
        for (const patch of patches) {
          const again = merge(profile, patch, policy);
          expect(again.changes).toEqual([]);
          expect(again.profile).toEqual(profile);
        }
        const self = mergeProfiles(profile, profile, policy);
        expect(self.changes).toEqual([]);
        expect(self.profile).toEqual(profile);
      }),
      { numRuns: RUNS },
    );
  });

  it('mergeProfiles commutes', () => {
    fc.assert(
      fc.property(patchesArb, patchesArb, (xs, ys) => {
        const a = fold(xs, 'a');
        const b = fold(ys, 'b');
        const ab = mergeProfiles(a, b, policy).profile;
        const ba = mergeProfiles(b, a, policy).profile;
        expect(withId(ab)).toEqual(withId(ba));
      }),
      { numRuns: RUNS },
    );
  });

  it('the primary e-mail and phone are the newest ones set (at, priority, source id, smaller value), whatever the order', () => {
    // A lookup key counts as never set: only its value orders it against other lookup keys.
    const rank = (c: { at: string; source: string; value: string; lookup: boolean }) =>
      c.lookup ? ([0, 0, 0, ''] as const) : ([1, Date.parse(c.at), policy.priorities[c.source] ?? 0, c.source] as const);
    const newer = (a: Parameters<typeof rank>[0], b: Parameters<typeof rank>[0]): boolean => {
      const [x, y] = [rank(a), rank(b)];
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
      return a.value < b.value;
    };
    fc.assert(
      fc.property(reorderedArb, ([patches, shuffled]) => {
        const profile = fold(shuffled);
        for (const kind of ['email', 'phone'] as const) {
          // Every time the identity was named: lookup keys as "never", real ones at the patch's effective time.
          const named = patches.flatMap((p) =>
            p.identities
              .filter((i) => i.kind === kind)
              .map((i) => ({ value: i.value, at: effectiveAt(p, policy.skewMs), source: p.source, lookup: i.lookup === true })),
          );
          let expected: (typeof named)[number] | undefined;
          for (const c of named) if (expected === undefined || newer(c, expected)) expected = c;
          const primary = primaryIdentity(profile.identities, { kind }, policy);
          expect(primary?.value).toBe(expected?.value);
          if (expected && !expected.lookup) expect(primary).toMatchObject({ at: expected.at, source: expected.source });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reports changes exactly when the profile changed, and ignores exactly the rule breakers', () => {
    fc.assert(
      fc.property(patchesArb, (patches) => {
        let profile = emptyProfile('p');
        for (const patch of patches) {
          const result = merge(profile, patch, policy);
          if (result.changes.length === 0) expect(result.profile).toEqual(profile);
          else expect(result.profile).not.toEqual(profile);
          for (const ignored of result.ignored) {
            const [purpose] = ignored.path.split('.');
            const rule = purpose === undefined ? undefined : policy.purposes[purpose];
            if (ignored.reason === 'unknown_purpose') expect(rule).toBeUndefined();
            else expect(rule?.authorities).not.toContain(patch.source);
            expect(ignored.state?.source).toBe(patch.source);
          }
          profile = result.profile;
        }
      }),
      { numRuns: RUNS },
    );
  });
});

/** The slot a verdict names, as the profile holds it: `{value, at, source}` or undefined. */
function slotOf(profile: Profile, kind: string, path: string): { value: unknown; at: string; source: string } | undefined {
  const pick = (s: { value: unknown; at: string; source: string } | undefined) => s && { value: s.value, at: s.at, source: s.source };
  if (kind === 'attribute') return pick(profile.attributes[path]);
  if (kind === 'subscription') return pick(profile.subscriptions[path]);
  if (kind === 'right')
    return pick(path === 'restricted' ? profile.rights.restricted : profile.rights.objections[path.slice(11) as 'profiling']);
  if (kind === 'identity') return pick(profile.identities.find((i) => identityKey(i) === path));
  const [purpose = '', channel = ''] = path.split('.');
  return pick(profile.consents[purpose]?.[channel]);
}

describe('explainMerge says what merge did (property test)', () => {
  it('a won value is what the profile holds after the patch; a lost one left the slot as it was', () => {
    fc.assert(
      fc.property(patchesArb, (patches) => {
        let profile = emptyProfile('p');
        for (const patch of patches) {
          const result = merge(profile, patch, policy);
          for (const v of explainMerge(profile, patch, policy, result)) {
            const after = slotOf(result.profile, v.kind, v.path);
            const before = slotOf(profile, v.kind, v.path);
            expect(before ?? null).toEqual(v.previous);
            if (v.outcome === 'won') expect(after).toEqual(v.offered);
            // A most-restrictive report that lost to another authority's denial is still the source's report.
            else if (v.reason !== 'outvoted') expect(after).toEqual(before);
            else expect(after).not.toEqual(v.offered);
          }
          profile = result.profile;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
