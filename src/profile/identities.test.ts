import { describe, expect, it } from 'vitest';
import { asLookupKeys, isPrimaryIdentity, primaryIdentity, withIdentityStamps } from './identities.js';
import { emptyProfile, merge } from './merge.js';
import { MergePolicy, Profile as ProfileSchema, ProfilePatch, UNSTAMPED } from './schema.js';
import type { ProfileIdentity, ProfilePatchInput } from './schema.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();
const policy = MergePolicy.parse({ priorities: { hubspot: 2, salesforce: 1, legacy: -1 } });

function patch(input: Partial<ProfilePatchInput> & { source: string; at: string }): ProfilePatch {
  return ProfilePatch.parse({ id: `${input.source}@${input.at}`, receivedAt: input.at, ...input });
}

const phone = (value: string, at: string, source: string): ProfileIdentity => ({ kind: 'phone', value, at, source });

describe('primary identities', () => {
  it('the newest phone is primary, even from a lower-priority source; older ones stay', () => {
    const profile = [
      patch({ source: 'hubspot', at: T(1), identities: [{ kind: 'phone', value: '+4930111' }] }),
      patch({ source: 'salesforce', at: T(2), identities: [{ kind: 'phone', value: '+4930999' }] }),
    ].reduce((p, x) => merge(p, x, policy).profile, emptyProfile('p'));
    expect(profile.identities).toEqual([phone('+4930111', T(1), 'hubspot'), phone('+4930999', T(2), 'salesforce')]);
    expect(primaryIdentity(profile.identities, { kind: 'phone' }, policy)?.value).toBe('+4930999');
    expect(primaryIdentity(profile.identities, { kind: 'email' }, policy)).toBeUndefined();
  });

  it('on an `at` tie the source priority decides, then the source id, then the smaller value', () => {
    const ids = [phone('+4930999', T(1), 'salesforce'), phone('+4930111', T(1), 'hubspot')];
    expect(primaryIdentity(ids, { kind: 'phone' }, policy)?.value).toBe('+4930111');
    const byId = [phone('+4930999', T(1), 'zeta'), phone('+4930111', T(1), 'alpha')];
    expect(primaryIdentity(byId, { kind: 'phone' }, policy)?.value).toBe('+4930999');
    const byValue = [phone('+4930999', T(1), 'hubspot'), phone('+4930111', T(1), 'hubspot')];
    expect(primaryIdentity(byValue, { kind: 'phone' }, policy)?.value).toBe('+4930111');
    expect(byValue.map((i) => isPrimaryIdentity(i, byValue, policy))).toEqual([false, true]);
  });

  it('external ids have a primary per system', () => {
    const ids: ProfileIdentity[] = [
      { kind: 'external', system: 'hubspot', value: '1', at: T(1), source: 'hubspot' },
      { kind: 'external', system: 'hubspot', value: '2', at: T(3), source: 'hubspot' },
      { kind: 'external', system: 'salesforce', value: '003', at: T(2), source: 'salesforce' },
    ];
    expect(primaryIdentity(ids, { kind: 'external', system: 'hubspot' }, policy)?.value).toBe('2');
    expect(primaryIdentity(ids, { kind: 'external', system: 'salesforce' }, policy)?.value).toBe('003');
  });

  it('a lookup key finds the person but never moves a stamp; a new one counts as unstamped', () => {
    const set = merge(
      emptyProfile('p'),
      patch({ source: 'legacy', at: T(1), identities: [{ kind: 'email', value: 'b@x.io' }] }),
      policy,
    ).profile;
    const looked = merge(
      set,
      patch({
        source: 'hubspot',
        at: T(5),
        identities: [
          { kind: 'email', value: 'b@x.io', lookup: true },
          { kind: 'email', value: 'a@x.io', lookup: true },
        ],
      }),
      policy,
    );
    expect(looked.profile.identities).toEqual([
      { kind: 'email', value: 'a@x.io', ...UNSTAMPED },
      { kind: 'email', value: 'b@x.io', at: T(1), source: 'legacy' },
    ]);
    expect(looked.changes.map((c) => c.path)).toEqual(['email:a@x.io']);
    // Even a source with a negative priority beats the unstamped key.
    expect(primaryIdentity(looked.profile.identities, { kind: 'email' }, policy)?.value).toBe('b@x.io');
    // Named again as a lookup key, nothing changes.
    expect(
      merge(looked.profile, patch({ source: 'salesforce', at: T(6), identities: asLookupKeys(looked.profile.identities) }), policy).changes,
    ).toEqual([]);
  });

  it('profiles stored before identities had stamps read as unstamped and keep their first identity as primary', () => {
    const stored = {
      ...emptyProfile('p'),
      identities: [
        { kind: 'email' as const, value: 'a@x.io' },
        { kind: 'email' as const, value: 'b@x.io' },
      ],
    };
    const parsed = ProfileSchema.parse(stored);
    expect(parsed.identities).toEqual([
      { kind: 'email', value: 'a@x.io', ...UNSTAMPED },
      { kind: 'email', value: 'b@x.io', ...UNSTAMPED },
    ]);
    expect(withIdentityStamps(stored.identities)).toEqual(parsed.identities);
    expect(withIdentityStamps(parsed.identities)).toBe(parsed.identities);
    expect(primaryIdentity(parsed.identities, { kind: 'email' }, policy)?.value).toBe('a@x.io');
    // The first real report of any address makes it primary.
    const next = merge(parsed, patch({ source: 'legacy', at: T(1), identities: [{ kind: 'email', value: 'b@x.io' }] }), policy).profile;
    expect(primaryIdentity(next.identities, { kind: 'email' }, policy)?.value).toBe('b@x.io');
  });
});
