import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/connector/errors.js';
import { msUntilMidnight } from './api.js';
import { Pacer } from './pacer.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('Pacer', () => {
  it('lets max calls through per rolling window, then says how long to wait', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 3, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    for (let i = 0; i < 3; i++) {
      await pacer.take();
      c.advance(1_000);
    }
    expect(pacer.waitMs()).toBe(7_000);
    c.advance(7_000);
    expect(pacer.waitMs()).toBe(0);
  });

  it('folds in the remaining budget HubSpot reports (calls made elsewhere count too)', () => {
    const c = clock();
    const pacer = new Pacer({ max: 100, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    pacer.observeRemaining(0);
    expect(pacer.waitMs()).toBe(10_000);
    c.advance(10_001);
    expect(pacer.waitMs()).toBe(0);
  });

  it('parks the caller with a RateLimitedError instead of sleeping past maxWaitMs', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 1, windowMs: 10_000, now: c.now, maxWaitMs: 5_000, policy: 'TEN_SECONDLY_ROLLING' });
    await pacer.take();
    await expect(pacer.take()).rejects.toBeInstanceOf(RateLimitedError);
    pacer.block(20_000);
    c.advance(15_000);
    expect(pacer.waitMs()).toBe(5_000);
  });
});

describe('msUntilMidnight', () => {
  it('counts to the next midnight in the account time zone', () => {
    const noonUtc = Date.parse('2026-11-29T12:00:00.000Z');
    expect(msUntilMidnight(noonUtc, 'UTC')).toBe(12 * 3_600_000);
    // 12:00 UTC is 07:00 in New York (EST): 17 hours to go.
    expect(msUntilMidnight(noonUtc, 'America/New_York')).toBe(17 * 3_600_000);
    expect(msUntilMidnight(Date.parse('2026-11-29T23:59:59.500Z'), 'UTC')).toBe(500);
  });
});
