import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BackoffPolicy, backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const policy = BackoffPolicy.parse({ baseMs: 100, maxMs: 10_000, jitter: 0.5 });

  it('doubles per attempt without jitter', () => {
    const none = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, none))).toEqual([100, 200, 400, 800]);
  });

  it('caps at maxMs', () => {
    expect(backoffDelay(30, { ...policy, jitter: 0 })).toBe(10_000);
  });

  it('stays within [exp * (1 - jitter), exp] for any random draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (attempt, r) => {
        const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
        const d = backoffDelay(attempt, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(exp * 0.5));
        expect(d).toBeLessThanOrEqual(exp);
      }),
    );
  });

  it('spreads retries apart (jitter)', () => {
    const draws = [0, 0.5, 0.99].map((r) => backoffDelay(3, policy, () => r));
    expect(new Set(draws).size).toBe(3);
  });
});
