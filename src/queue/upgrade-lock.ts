/**
 * One process at a time moves what an earlier version left in Redis (its engine keys, its
 * queues' jobs): a lock on the deployment's tag. A process finding it taken waits, and stops
 * waiting once there is nothing left to move.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-client.js';

/** How long the moving process may hold the lock; one that dies lets the next one move. */
const LOCK_MS = 120_000;

/**
 * Runs `move` holding `lock`; while another process holds it, waits and asks `stillNeeded`
 * every 100 ms: undefined once nothing is left to move.
 */
export async function withUpgradeLock<T>(
  redis: RedisClient,
  lock: string,
  stillNeeded: () => Promise<boolean>,
  move: () => Promise<T>,
): Promise<T | undefined> {
  const token = randomUUID();
  while ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    await sleep(100);
    if (!(await stillNeeded())) return undefined;
  }
  try {
    return await move();
  } finally {
    if ((await redis.get(lock)) === token) await redis.del(lock);
  }
}
