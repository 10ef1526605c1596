import { describe, expect, it } from 'vitest';
import { Duration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['5', 'm', '5 m', '1.5h', '-1s', '5min', '', '99999999999999999999d'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('Duration schema', () => {
  it('parses to milliseconds', () => {
    expect(Duration.parse('2m')).toBe(120_000);
  });
  it('explains the expected form', () => {
    const result = Duration.safeParse('2 minutes');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('expected a duration such as 500ms, 30s, 5m, 1h or 7d');
  });
});
