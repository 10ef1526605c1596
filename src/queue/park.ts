/**
 * Reading a queue's rate-limit park. A 429 or a spent daily allowance parks a connector's queues
 * (BullMQ's `queue.rateLimit`): the sync engine's push and pull queues and the privacy module's
 * erase queue alike. Lifting a park is the engine's (`sync/park.ts`) and the privacy service's.
 */
import type { Queue } from 'bullmq';

/**
 * BullMQ's `queue.rateLimit(ms)` parks a queue by setting its limiter counter to this value;
 * asking `getRateLimitTtl` with it reports such a park only, not a window of the worker's
 * own limiter that is merely in progress.
 */
export const QUEUE_PARKED = Number.MAX_SAFE_INTEGER;

/** How long a queue's park has left (ms; 0 when it is not parked). */
export async function queueParkedFor(queue: Queue): Promise<number> {
  return Math.max(0, await queue.getRateLimitTtl(QUEUE_PARKED));
}
