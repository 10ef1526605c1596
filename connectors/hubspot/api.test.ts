import { describe, expect, it } from 'vitest';
import { msUntilMidnight } from './api.js';

describe('msUntilMidnight', () => {
  it('counts to the next midnight in the account time zone', () => {
    const noonUtc = Date.parse('2026-11-29T12:00:00.000Z');
    expect(msUntilMidnight(noonUtc, 'UTC')).toBe(12 * 3_600_000);
    // 12:00 UTC is 07:00 in New York (EST): 17 hours to go.
    expect(msUntilMidnight(noonUtc, 'America/New_York')).toBe(17 * 3_600_000);
    expect(msUntilMidnight(Date.parse('2026-11-29T23:59:59.500Z'), 'UTC')).toBe(500);
  });
});
