/** Retries a whole transaction when it lost a race that a fresh attempt can win. */
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError, WriteConflictError } from './errors.js';

/**
 * PostgreSQL: serialization failure, deadlock, unique violation (two writers created the
 * same identity), foreign-key violation (a profile merged away under us).
 */
const PG_RETRYABLE = new Set(['40001', '40P01', '23505', '23503']);

export function isRetryable(error: unknown): boolean {
  if (error instanceof WriteConflictError) return true;
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = error.code;
  if (typeof code !== 'string') return false;
  return PG_RETRYABLE.has(code) || code.startsWith('SQLITE_BUSY');
}

export interface RetryOptions {
  attempts: number;
  /** Keep retrying past `attempts` until this much time has passed (SQLite: the busy timeout). */
  budgetMs?: number;
  /** The longest pause between attempts (default 200 ms). */
  maxDelayMs?: number;
  /** Called before each new attempt (for logging and metrics). */
  onRetry?: (attempt: number, error: unknown) => void;
}

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= options.attempts && Date.now() - started >= (options.budgetMs ?? 0)) {
        throw new StoreError('write_conflict', `transaction still conflicting after ${attempt} attempts`, {
          cause: error,
        });
      }
      options.onRetry?.(attempt, error);
      // Full jitter, capped: contending writers spread out instead of colliding again.
      await sleep(Math.random() * Math.min(options.maxDelayMs ?? 200, 2 ** attempt));
    }
  }
}
