import type { RedisClient } from './redis-client.js';
import { groupBy } from './group-by.js';

/**
 * MGET of keys that may sit on several hash tags (each connector's engine keys have their own,
 * see `connectorPrefix`): one MGET per `tag`, all at once, since a Redis Cluster refuses one
 * across slots. The answers come in the order the keys were asked.
 */
export async function mgetByTag(redis: RedisClient, keys: readonly { key: string; tag: string }[]): Promise<(string | null)[]> {
  const out: (string | null)[] = keys.map(() => null);
  const groups = groupBy(
    keys.map((k, i) => ({ ...k, i })),
    (k) => k.tag,
  );
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const values = await redis.mget(...group.map((k) => k.key));
      group.forEach((k, n) => (out[k.i] = values[n] ?? null));
    }),
  );
  return out;
}
