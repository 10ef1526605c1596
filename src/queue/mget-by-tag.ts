import type { RedisClient } from './redis-client.js';

/**
 * MGET of keys that may sit on several hash tags (each connector's engine keys have their own,
 * see `connectorPrefix`): one MGET per `tag`, all at once, since a Redis Cluster refuses one
 * across slots. The answers come in the order the keys were asked.
 */
export async function mgetByTag(redis: RedisClient, keys: readonly { key: string; tag: string }[]): Promise<(string | null)[]> {
  const out: (string | null)[] = keys.map(() => null);
  const groups = new Map<string, number[]>();
  keys.forEach(({ tag }, i) => {
    const group = groups.get(tag);
    if (group) group.push(i);
    else groups.set(tag, [i]);
  });
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const values = await redis.mget(...indexes.map((i) => (keys[i] as { key: string }).key));
      indexes.forEach((i, k) => (out[i] = values[k] ?? null));
    }),
  );
  return out;
}
