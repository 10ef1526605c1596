/**
 * One process at a time moves what an earlier version left in Redis (its engine keys, its
 * queues' jobs): a lock on the deployment's tag. A process finding it taken waits, and stops
 * waiting once there is nothing left to move. A long move renews the lock as it goes.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-client.js';
import { LuaScript } from './lua.js';

/** How long the moving process holds the lock from its last renewal; one that dies lets the next one move. */
const LOCK_MS = 120_000;

/**
 * KEYS lock; ARGV token, ms. Extends the lock while this token holds it, takes it again when it
 * expired and nobody took it; 0 when another process holds it.
 */
const RENEW = new LuaScript(`local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`);

/** KEYS lock; ARGV token. Deletes the lock if this token holds it. */
const RELEASE = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Extends the lock; throws when another process holds it now (this one's expired and was taken). */
export type RenewLock = () => Promise<void>;

/**
 * Runs `move` holding `lock`; while another process holds it, waits and asks `stillNeeded`
 * every 100 ms: undefined once nothing is left to move.
 */
export async function withUpgradeLock<T>(
  redis: RedisClient,
  lock: string,
  stillNeeded: () => Promise<boolean>,
  move: (renew: RenewLock) => Promise<T>,
): Promise<T | undefined> {
  const token = randomUUID();
  while ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    await sleep(100);
    if (!(await stillNeeded())) return undefined;
  }
  const renew: RenewLock = async () => {
    if (Number(await RENEW.run(redis, [lock], [token, LOCK_MS])) !== 1) throw new Error(`lost the upgrade lock ${lock}`);
  };
  try {
    return await move(renew);
  } finally {
    await RELEASE.run(redis, [lock], [token]);
  }
}
