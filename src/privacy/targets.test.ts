import { describe, expect, it } from 'vitest';
import { emptyProfile } from '../profile/merge.js';
import type { Profile } from '../profile/schema.js';
import type { Shadow } from '../store/types.js';
import { planErasure } from './targets.js';

const connectors = [
  { id: 'hubspot', capabilities: { erase: true } },
  { id: 'salesforce', capabilities: { erase: true } },
  { id: 'mailer', capabilities: { erase: true } },
  { id: 'legacy', capabilities: { erase: false } },
];

function shadow(connector: string, externalId: string | null): Shadow {
  return { profileId: 'p1', connector, externalId, values: {}, valuesAt: {}, lastPushedAt: null, updatedAt: '2026-01-01T00:00:00.000Z' };
}

function person(): Profile {
  const stamp = { at: '2026-01-01T00:00:00.000Z', source: 'hubspot' };
  return {
    ...emptyProfile('p1'),
    identities: [
      { kind: 'email', value: 'ada@example.com', ...stamp },
      { kind: 'email', value: 'ada.work@example.com', ...stamp },
      { kind: 'phone', value: '+442071234567', ...stamp },
      { kind: 'external', system: 'hubspot', value: '101', ...stamp },
    ],
  };
}

describe('planErasure', () => {
  it('reaches every system holding the person, by id with the first address, and by each further address', () => {
    const plan = planErasure({
      profile: person(),
      shadows: [shadow('hubspot', '101'), shadow('salesforce', '003A')],
      named: [],
      connectors,
      alwaysErase: [],
    });
    expect(plan.refs).toEqual({
      hubspot: [{ externalId: '101', email: 'ada@example.com' }, { email: 'ada.work@example.com' }],
      salesforce: [{ externalId: '003A', email: 'ada@example.com' }, { email: 'ada.work@example.com' }],
    });
    expect(plan.manual).toEqual([]);
    // The Salesforce id the shadow knows is suppressed too.
    expect(plan.identities).toContainEqual({ kind: 'external', system: 'salesforce', value: '003A' });
    expect(plan.identities).toHaveLength(5);
  });

  it('adds always-erase systems by address, and lists holders that cannot erase as manual', () => {
    const plan = planErasure({
      profile: person(),
      shadows: [shadow('legacy', 'L-9')],
      named: [],
      connectors,
      alwaysErase: ['mailer', 'legacy'],
    });
    expect(plan.refs['mailer']).toEqual([{ email: 'ada@example.com' }, { email: 'ada.work@example.com' }]);
    expect(plan.refs['legacy']).toBeUndefined();
    expect(plan.manual).toEqual(['legacy']);
    expect(plan.refs['salesforce']).toBeUndefined();
  });

  it('plans an unknown person by the address the request named', () => {
    const plan = planErasure({
      profile: null,
      shadows: [],
      named: [{ kind: 'email', value: 'Who@Example.com' }],
      connectors,
      alwaysErase: ['mailer'],
    });
    expect(plan.refs).toEqual({ mailer: [{ email: 'who@example.com' }] });
    expect(plan.identities).toEqual([{ kind: 'email', value: 'Who@Example.com' }]);
  });

  it('reaches a system named by a source record id even without a shadow', () => {
    const plan = planErasure({
      profile: null,
      shadows: [],
      named: [{ kind: 'external', system: 'hubspot', value: '77' }],
      connectors,
      alwaysErase: [],
    });
    expect(plan.refs).toEqual({ hubspot: [{ externalId: '77' }] });
  });
});
