/** Deleting every Redis key of one deployment (the demo's reset, test cleanup). */
import type { Redis } from 'ioredis';
import { prefixPatterns } from './keys.js';

/** Deletes the engine's keys and every queue's of `prefix` (`prefixPatterns`), a SCAN page at a time. */
export async function deleteDeploymentKeys(redis: Redis, prefix: string): Promise<void> {
  for (const pattern of prefixPatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
}
