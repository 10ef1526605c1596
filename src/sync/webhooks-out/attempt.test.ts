import { describe, expect, it } from 'vitest';
import { STANDARD_RETRY_SCHEDULE_MS } from '../../connector/kit/outbound-webhooks.js';
import { attemptOutcome, MAX_RETRY_AFTER_MS } from './attempt.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const failed = (status: number | null, retryAfterMs?: number) =>
  ({ ok: false, status, error: `HTTP ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }) as const;
const at = (ms: number): string => new Date(NOW + ms).toISOString();

describe('attemptOutcome', () => {
  it('follows the schedule step by step, then dead-letters after the last step', () => {
    const schedule = [10, 20, 30];
    expect(attemptOutcome(failed(500), 0, schedule, NOW)).toEqual({ kind: 'retry', status: 500, error: 'HTTP 500', nextAttemptAt: at(10) });
    expect(attemptOutcome(failed(null), 1, schedule, NOW)).toMatchObject({ kind: 'retry', status: null, nextAttemptAt: at(20) });
    expect(attemptOutcome(failed(503), 2, schedule, NOW)).toMatchObject({ kind: 'retry', nextAttemptAt: at(30) });
    expect(attemptOutcome(failed(503), 3, schedule, NOW)).toEqual({ kind: 'dead', status: 503, error: 'HTTP 503' });
    expect(attemptOutcome(failed(500), 0, [], NOW)).toMatchObject({ kind: 'dead' });
  });

  it('is the spec default schedule: ten attempts over 5 s ... 24 h', () => {
    expect(STANDARD_RETRY_SCHEDULE_MS).toEqual([5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 864e5]);
    expect(attemptOutcome(failed(500), 0, STANDARD_RETRY_SCHEDULE_MS, NOW)).toMatchObject({ nextAttemptAt: at(5_000) });
    expect(attemptOutcome(failed(500), 9, STANDARD_RETRY_SCHEDULE_MS, NOW)).toMatchObject({ kind: 'dead' });
  });

  it('honours Retry-After when longer than the step, up to a day', () => {
    expect(attemptOutcome(failed(429, 60_000), 0, [10], NOW)).toMatchObject({ kind: 'retry', nextAttemptAt: at(60_000) });
    expect(attemptOutcome(failed(429, 5), 0, [10], NOW)).toMatchObject({ kind: 'retry', nextAttemptAt: at(10) });
    expect(attemptOutcome(failed(503, 30 * 86_400_000), 0, [10], NOW)).toMatchObject({ nextAttemptAt: at(MAX_RETRY_AFTER_MS) });
    // Retry-After does not extend a schedule that is over.
    expect(attemptOutcome(failed(429, 60_000), 1, [10], NOW)).toMatchObject({ kind: 'dead' });
  });

  it('delivers on 2xx, and a 410 disables the endpoint without spending a step', () => {
    expect(attemptOutcome({ ok: true, status: 204 }, 5, [], NOW)).toEqual({ kind: 'delivered', status: 204 });
    expect(attemptOutcome(failed(410), 9, [], NOW)).toEqual({ kind: 'gone' });
  });
});
