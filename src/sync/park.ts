/**
 * Lifting a rate-limit park. A 429 or a spent daily allowance parks a connector's queues
 * (BullMQ's queue rate limit) and blocks every call to the system (the call limiter) for as
 * long as the system asked, or the connector's configured park. When the allowance comes back
 * early, an operator lifts the park (`POST /api/v1/connectors/{id}/unpark`, `concord unpark`):
 * the block and the queues' rate limits go, every process drops what its connector instance
 * holds in memory before its next call (see `CallLimiter.lift`), and a push runs at once.
 * If the system is still out of allowance, the next call simply parks again.
 */
import { queueParkedFor } from '../queue/park.js';
import type { EngineContext } from './context.js';
import { scheduleFlush } from './context.js';

/** What lifting a park found. */
export interface UnparkResult {
  connector: string;
  /** How long the longest park (queue or call block) still had to run, ms; 0 when nothing was parked. */
  parkedForMs: number;
}

export async function liftPark(ctx: EngineContext, connector: string): Promise<UnparkResult> {
  const queues = [ctx.queues.push.get(connector), ctx.queues.pull.get(connector)].filter((q) => q !== undefined);
  const queueLeft = await Promise.all(queues.map(queueParkedFor));
  // The call block first: a worker that wakes once its queue is free must find calls allowed.
  const blockLeft = await ctx.limiter.lift(connector);
  await Promise.all(queues.map((q) => q.removeRateLimitKey()));
  await scheduleFlush(ctx, connector, 'now');
  const parkedForMs = Math.max(0, blockLeft, ...queueLeft);
  ctx.logger.info({ connector, parkedForMs }, 'rate-limit park lifted');
  return { connector, parkedForMs };
}
