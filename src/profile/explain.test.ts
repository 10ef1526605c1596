import { describe, expect, it } from 'vitest';
import { explainMerge } from './explain.js';
import type { Verdict } from './explain.js';
import { emptyProfile, merge } from './merge.js';
import type { Profile, ProfilePatchInput } from './schema.js';
import { MergePolicy, ProfilePatch } from './schema.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

const policy = MergePolicy.parse({
  priorities: { salesforce: 10, hubspot: 5 },
  purposes: {
    marketing: { authorities: ['hubspot', 'preference_center'] },
    analytics: { policy: 'most-restrictive' },
  },
});

function patch(input: Partial<ProfilePatchInput> & { source: string; at: string }): ProfilePatch {
  return ProfilePatch.parse({
    id: `${input.source}@${input.at}`,
    receivedAt: input.at,
    identities: [{ kind: 'email', value: 'a@x.io' }],
    ...input,
  });
}

/** Merges the patches in order; the verdicts of the last one. */
function explainLast(...patches: ProfilePatch[]): Verdict[] {
  let profile: Profile = emptyProfile('p');
  let verdicts: Verdict[] = [];
  for (const p of patches) {
    const result = merge(profile, p, policy);
    verdicts = explainMerge(profile, p, policy, result);
    profile = result.profile;
  }
  return verdicts;
}

const brief = (vs: Verdict[]) => vs.filter((v) => v.kind !== 'identity').map((v) => `${v.kind}:${v.path} ${v.outcome} ${v.reason}`);

describe('explainMerge', () => {
  it('a first value is new; a later one wins as newer, an older one loses with the value that stays', () => {
    const first = patch({ source: 'hubspot', at: T(2), attributes: { firstName: 'Ada' } });
    expect(brief(explainLast(first))).toEqual(['attribute:firstName won new']);
    const newer = patch({ source: 'salesforce', at: T(3), attributes: { firstName: 'Ada L.' } });
    expect(explainLast(first, newer).find((v) => v.path === 'firstName')).toEqual({
      kind: 'attribute',
      path: 'firstName',
      outcome: 'won',
      reason: 'newer',
      offered: { value: 'Ada L.', at: T(3), source: 'salesforce' },
      previous: { value: 'Ada', at: T(2), source: 'hubspot' },
    });
    const older = patch({ source: 'salesforce', at: T(1), attributes: { firstName: 'Adele' } });
    expect(explainLast(first, older).find((v) => v.path === 'firstName')).toMatchObject({
      outcome: 'lost',
      reason: 'older_than_current',
      offered: { value: 'Adele', at: T(1) },
      previous: { value: 'Ada', at: T(2) },
    });
  });

  it('at the same instant the source priority decides, and a denial wins a consent tie', () => {
    const hub = patch({
      source: 'hubspot',
      at: T(2),
      attributes: { city: 'Bonn' },
      consents: { marketing: { email: { status: 'denied' } } },
    });
    const sf = patch({ source: 'salesforce', at: T(2), attributes: { city: 'Köln' } });
    expect(brief(explainLast(hub, sf))).toEqual(['attribute:city won higher_priority']);
    expect(brief(explainLast(sf, patch({ source: 'hubspot', at: T(2), attributes: { city: 'Bonn' } })))).toEqual([
      'attribute:city lost lower_priority',
    ]);
    const grant = patch({ source: 'preference_center', at: T(2), consents: { marketing: { email: { status: 'granted' } } } });
    expect(brief(explainLast(hub, grant))).toEqual(['consent:marketing.email lost granted_loses_tie']);
  });

  it('rules: a source that is no authority loses whatever the time; an outvoted most-restrictive report is recorded as lost', () => {
    const pc = patch({ source: 'preference_center', at: T(1), consents: { marketing: { email: { status: 'granted' } } } });
    const crm = patch({ source: 'salesforce', at: T(5), consents: { marketing: { email: { status: 'denied' } } } });
    expect(brief(explainLast(pc, crm))).toEqual(['consent:marketing.email lost not_authority']);
    const deny = patch({ source: 'hubspot', at: T(1), consents: { analytics: { web: { status: 'denied' } } } });
    const allow = patch({ source: 'salesforce', at: T(2), consents: { analytics: { web: { status: 'granted' } } } });
    expect(brief(explainLast(deny, allow))).toEqual(['consent:analytics.web lost outvoted']);
  });

  it('leaves out replays, re-sends of the same value by the same source, and lookup identities', () => {
    const first = patch({ source: 'hubspot', at: T(2), attributes: { firstName: 'Ada' } });
    expect(explainLast(first, first)).toEqual([]);
    const resend = patch({ source: 'hubspot', at: T(3), attributes: { firstName: 'Ada' } });
    expect(explainLast(first, resend)).toEqual([]);
    const lookup = patch({
      source: 'salesforce',
      at: T(4),
      identities: [{ kind: 'email', value: 'a@x.io', lookup: true }],
      attributes: { x: 1 },
    });
    expect(explainLast(first, lookup).map((v) => v.kind)).toEqual(['attribute']);
    expect(explainLast(first).filter((v) => v.kind === 'identity')).toEqual([
      expect.objectContaining({
        path: 'email:a@x.io',
        outcome: 'won',
        reason: 'new',
        offered: { value: 'a@x.io', at: T(2), source: 'hubspot' },
      }),
    ]);
  });
});
