import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadPlanner, untouchedSinceCreation, type ContactTimes } from './read-plan.js';

const contact = (createdAt: string | undefined, updatedAt: string, lastmodifieddate?: string): ContactTimes => ({
  properties: lastmodifieddate === undefined ? {} : { lastmodifieddate },
  ...(createdAt === undefined ? {} : { createdAt: new Date(createdAt) }),
  updatedAt: new Date(updatedAt),
});

describe('untouchedSinceCreation', () => {
  it('holds only when the contact was last modified when it was created', () => {
    const t = '2026-12-06T10:00:00.000Z';
    expect(untouchedSinceCreation(contact(t, t))).toBe(true);
    expect(untouchedSinceCreation(contact(t, t, t))).toBe(true);
    expect(untouchedSinceCreation(contact(t, '2026-12-06T10:00:00.001Z'))).toBe(false);
    // lastmodifieddate says it changed although updatedAt does not.
    expect(untouchedSinceCreation(contact(t, t, '2026-12-06T10:00:05.000Z'))).toBe(false);
    // Without a creation time nothing is known: read with history.
    expect(untouchedSinceCreation(contact(undefined, t))).toBe(false);
  });
});

describe('ReadPlanner', () => {
  /** Calls a read of `count` contacts costs, `changed` of them changed since their creation. */
  const cost = (valuesFirst: boolean, count: number, changed: number): number =>
    valuesFirst ? Math.ceil(count / 100) + Math.ceil(changed / 50) : Math.ceil(count / 50);

  it('reads 50 contacts or fewer with their history at once (one call either way)', () => {
    const plan = new ReadPlanner(100, 50);
    for (const count of [1, 2, 49, 50]) expect(plan.valuesFirst(count)).toBe(false);
    expect(plan.valuesFirst(51)).toBe(true);
    expect(plan.valuesFirst(100)).toBe(true);
  });

  it('turns to history reads once most contacts read had changed, and back once they had not', () => {
    const plan = new ReadPlanner(100, 50);
    for (let i = 0; i < 10; i++) plan.observe(100, 100);
    expect(plan.valuesFirst(100)).toBe(false);
    expect(plan.valuesFirst(1_000)).toBe(false);
    for (let i = 0; i < 10; i++) plan.observe(100, 0);
    expect(plan.valuesFirst(100)).toBe(true);
  });

  it('on a steady share of changed contacts, costs at most one call per read more than the better way', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 500 }), (share, count) => {
        const plan = new ReadPlanner(100, 50);
        for (let i = 0; i < 20; i++) plan.observe(100, Math.round(share * 100));
        const changed = Math.round(share * count);
        const chosen = cost(plan.valuesFirst(count), count, changed);
        expect(chosen).toBeLessThanOrEqual(Math.min(cost(true, count, changed), cost(false, count, changed)) + 1);
      }),
    );
  });
});
