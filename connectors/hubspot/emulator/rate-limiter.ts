/**
 * HubSpot's rate limits: a rolling window (`TEN_SECONDLY_ROLLING`), a daily budget (`DAILY`)
 * and the CRM search's own per-second limit. Answers carry the `X-HubSpot-RateLimit-*` headers,
 * except search answers, which HubSpot sends without them.
 * https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
 */
import { randomUUID } from 'node:crypto';
import type { RateLimitOptions } from './options.js';

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY';

export interface RateLimitBody {
  status: 'error';
  message: string;
  errorType: 'RATE_LIMIT';
  correlationId: string;
  policyName: RateLimitPolicy;
  requestId: string;
}

export type RateDecision =
  { ok: true; headers: Record<string, string> } | { ok: false; headers: Record<string, string>; body: RateLimitBody };

const MESSAGES: Record<RateLimitPolicy, string> = {
  TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
  DAILY: 'You have reached your daily limit.',
  SECONDLY: 'You have reached your secondly limit.',
};

/** HubSpot's 429 body for a policy. */
export function rateLimitBody(policy: RateLimitPolicy): RateLimitBody {
  return {
    status: 'error',
    message: MESSAGES[policy],
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: policy,
    requestId: randomUUID(),
  };
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class RateLimiter {
  private window: number[] = [];
  private searchWindow: number[] = [];
  private day: string;
  private dailyUsed = 0;

  constructor(
    private limits: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.day = utcDay(now());
  }

  setLimits(limits: RateLimitOptions): void {
    this.limits = limits;
  }

  /** Starts a new day (the real reset is midnight in the account's time zone). */
  resetDaily(): void {
    this.dailyUsed = 0;
    this.day = utcDay(this.now());
  }

  /** Decides one request; an accepted request is counted. */
  take(kind: 'standard' | 'search'): RateDecision {
    const now = this.now();
    if (utcDay(now) !== this.day) this.resetDaily();
    this.window = this.window.filter((t) => t > now - this.limits.intervalMs);
    this.searchWindow = this.searchWindow.filter((t) => t > now - 1000);

    const headers = (remaining: number): Record<string, string> =>
      kind === 'search'
        ? {}
        : {
            'X-HubSpot-RateLimit-Daily': String(this.limits.daily),
            'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, this.limits.daily - this.dailyUsed)),
            'X-HubSpot-RateLimit-Interval-Milliseconds': String(this.limits.intervalMs),
            'X-HubSpot-RateLimit-Max': String(this.limits.max),
            'X-HubSpot-RateLimit-Remaining': String(Math.max(0, remaining)),
          };

    let refused: RateLimitPolicy | null = null;
    if (this.dailyUsed >= this.limits.daily) refused = 'DAILY';
    else if (this.window.length >= this.limits.max) refused = 'TEN_SECONDLY_ROLLING';
    else if (kind === 'search' && this.searchWindow.length >= this.limits.searchPerSecond) refused = 'SECONDLY';
    if (refused) {
      return {
        ok: false,
        headers: headers(this.limits.max - this.window.length),
        body: rateLimitBody(refused),
      };
    }
    this.window.push(now);
    if (kind === 'search') this.searchWindow.push(now);
    this.dailyUsed += 1;
    return { ok: true, headers: headers(this.limits.max - this.window.length) };
  }
}
