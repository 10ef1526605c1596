/**
 * Every request to an external system goes through `callExternal`: it takes a slot from the
 * connector's sliding-window limiter (shared by all processes), counts the call, retries
 * transient failures with p-retry (each retry takes a new slot), and on a 429 blocks every
 * call to that system for the Retry-After before rethrowing.
 */
import pRetry from 'p-retry';
import { classifyHttpError, RateLimitedError, TransientError } from '../connector/errors.js';
import type { ConnectorError } from '../connector/errors.js';
import type { Counter } from 'prom-client';
import type { CallSlots } from './call-limiter.js';

/** The system called, as the limiter knows it: its instance id and its request budget. */
export interface CalledSystem {
  id: string;
  limits: { requestsPerWindow: number; windowMs: number };
}

/** The counters every call moves (the engine's `SyncMetrics` has them). */
export interface CallMetrics {
  apiCalls: Counter<'connector' | 'operation'>;
  rateLimited: Counter<'connector'>;
}

export interface CallContext {
  /** The engine's shared limiter, or an in-process one (`LocalCallLimiter`, for `concord plan`). */
  limiter: CallSlots;
  metrics: CallMetrics;
  retries: number;
  retryMinMs: number;
}

export type Operation = 'push' | 'pull' | 'read' | 'erase' | 'export' | 'find';

/** Calls `fn` within the connector's limits; throws a `ConnectorError` when it finally fails. */
export async function callExternal<T>(
  ctx: CallContext,
  connector: CalledSystem,
  operation: Operation,
  fn: () => Promise<T>,
  options: { signal?: AbortSignal; /** The slot the caller already took for the first attempt. */ slot?: string } = {},
): Promise<T> {
  const { signal } = options;
  const limit = limitOf(connector);
  let taken = options.slot;
  const attempt = async (): Promise<T> => {
    const slot = taken ?? (await ctx.limiter.acquire(connector.id, limit, signal));
    taken = undefined;
    ctx.metrics.apiCalls.inc({ connector: connector.id, operation });
    try {
      return await fn();
    } catch (err) {
      const classified = classifyHttpError(err);
      if (classified instanceof RateLimitedError) {
        ctx.metrics.rateLimited.inc({ connector: connector.id });
        await ctx.limiter.block(connector.id, classified.retryAfterMs);
      }
      throw classified;
    } finally {
      // Off the caller's path: the slot only needs to move before the window ends.
      ctx.limiter.release(connector.id, slot).catch(() => undefined);
    }
  };
  try {
    return await pRetry(attempt, {
      retries: ctx.retries,
      minTimeout: ctx.retryMinMs,
      factor: 2,
      randomize: true,
      ...(signal ? { signal } : {}),
      shouldRetry: ({ error }) => error instanceof TransientError,
    });
  } catch (err) {
    throw classifyHttpError(err) satisfies ConnectorError;
  }
}

/** The connector's request budget as the call limiter takes it. */
export function limitOf(connector: CalledSystem): { max: number; windowMs: number } {
  return { max: connector.limits.requestsPerWindow, windowMs: connector.limits.windowMs };
}
