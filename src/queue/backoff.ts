/**
 * Exponential backoff with jitter, used both as BullMQ's custom backoff strategy (retries
 * across calls) and for profiles whose push outcome was retryable.
 */
import { z } from 'zod';

export const BackoffPolicy = z.object({
  /** Delay before the first retry. */
  baseMs: z.number().int().positive().default(1_000),
  /** Upper bound of any single delay. */
  maxMs: z
    .number()
    .int()
    .positive()
    .default(5 * 60_000),
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). */
  jitter: z.number().min(0).max(1).default(0.5),
});
export type BackoffPolicy = z.infer<typeof BackoffPolicy>;

/** The BullMQ backoff type name registered by the engine's workers. */
export const BACKOFF_TYPE = 'concord-exponential-jitter';

/**
 * Delay before retry number `attempt` (1 for the first retry): `baseMs * 2^(attempt-1)`
 * capped at `maxMs`, of which the `jitter` fraction is random.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const fixed = exp * (1 - policy.jitter);
  return Math.round(fixed + exp * policy.jitter * random());
}
