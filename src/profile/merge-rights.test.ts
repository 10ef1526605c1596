/**
 * Rights authorities: with `rightsAuthorities`, only those sources lift a restriction or an
 * objection; any source may set one. The merge stays a join (order, grouping and repetition
 * do not matter).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyProfile, merge } from './merge.js';
import { MergePolicy, ProfilePatch } from './schema.js';
import type { Profile, ProfilePatchInput } from './schema.js';

const T = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();
const policy = MergePolicy.parse({ rightsAuthorities: ['preference_center', 'admin'] });

function patch(input: Partial<ProfilePatchInput> & Pick<ProfilePatchInput, 'source' | 'at'>): ProfilePatch {
  return ProfilePatch.parse({
    id: `${input.source}:${input.at}`,
    receivedAt: input.at,
    identities: [{ kind: 'email', value: 'ada@example.com', lookup: true }],
    ...input,
  });
}

describe('rights authorities', () => {
  it('a CRM cannot lift an objection or a restriction the person made; the attempt is reported as ignored', () => {
    const objected = merge(
      emptyProfile('p'),
      patch({ source: 'preference_center', at: T(1), rights: { restricted: true, objections: { directMarketing: true } } }),
      policy,
    ).profile;
    const result = merge(
      objected,
      patch({ source: 'salesforce', at: T(2), rights: { restricted: false, objections: { directMarketing: false } } }),
      policy,
    );
    expect(result.changes).toEqual([]);
    expect(result.profile.rights).toEqual(objected.rights);
    expect(result.ignored).toEqual([
      { kind: 'right', path: 'restricted', reason: 'not_authority', source: 'salesforce' },
      { kind: 'right', path: 'objections.directMarketing', reason: 'not_authority', source: 'salesforce' },
    ]);
  });

  it('any source may set one, and the person (through a hub source) may lift it', () => {
    const set = merge(emptyProfile('p'), patch({ source: 'salesforce', at: T(1), rights: { objections: { profiling: true } } }), policy);
    expect(set.profile.rights.objections.profiling).toEqual({ value: true, at: T(1), source: 'salesforce' });
    const lifted = merge(set.profile, patch({ source: 'admin', at: T(2), rights: { objections: { profiling: false } } }), policy);
    expect(lifted.profile.rights.objections.profiling).toEqual({ value: false, at: T(2), source: 'admin' });
    expect(lifted.ignored).toEqual([]);
  });

  it('without rightsAuthorities every source may lift (the default)', () => {
    const open = MergePolicy.parse({});
    const objected = merge(
      emptyProfile('p'),
      patch({ source: 'admin', at: T(1), rights: { objections: { directMarketing: true } } }),
      open,
    ).profile;
    expect(
      merge(objected, patch({ source: 'salesforce', at: T(2), rights: { objections: { directMarketing: false } } }), open).profile.rights
        .objections.directMarketing?.value,
    ).toBe(false);
  });

  it('stays a join: every order and repetition of the same patches give the same profile', () => {
    const arb = fc.array(
      fc.record({
        source: fc.constantFrom('salesforce', 'hubspot', 'admin', 'preference_center'),
        at: fc.constantFrom(T(0), T(1), T(2)),
        restricted: fc.constantFrom(undefined, true, false),
        objection: fc.constantFrom(undefined, true, false),
      }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(
        arb.chain((items) =>
          fc.tuple(fc.constant(items), fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length })),
        ),
        ([items, shuffled]) => {
          const toPatch = (i: (typeof items)[number], n: number): ProfilePatch =>
            patch({
              id: `g${n}`,
              source: i.source,
              at: i.at,
              rights: {
                ...(i.restricted === undefined ? {} : { restricted: i.restricted }),
                objections: i.objection === undefined ? {} : { directMarketing: i.objection },
              },
            });
          const fold = (list: ProfilePatch[]): Profile => list.reduce((p, x) => merge(p, x, policy).profile, emptyProfile('p'));
          const patches = items.map(toPatch);
          const reordered = shuffled.map((i) => patches[items.indexOf(i)] ?? toPatch(i, 0));
          expect(fold(reordered)).toEqual(fold(patches));
          expect(fold([...patches, ...patches])).toEqual(fold(patches));
        },
      ),
      { numRuns: 300 },
    );
  });
});
