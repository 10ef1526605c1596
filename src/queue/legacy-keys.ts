/**
 * Moving an earlier version's engine keys. Up to version 0.1 every connector's engine keys were
 * on the deployment's hash tag (`{concord}:sync:dirty:hubspot`); now each connector's are on its
 * own (`{concord.sync.hubspot}:sync:dirty:hubspot`, see `connectorPrefix`). At start, what the
 * long-lived ones still hold under the old names is merged into the new ones and the old keys
 * are deleted, so an upgrade loses no dead letter, back-off, held create, `concord push` mark or
 * pull record. Entries under the new names win (another process may have started first);
 * profiles an earlier process had in flight become dirty. Short-lived keys (write log, webhook
 * receipts, limiter windows) are left to expire: drain the queues before upgrading (DEPLOY.md).
 */
import type { Logger } from 'pino';
import type { RedisClient } from './redis-client.js';
import { execAll } from './redis-health.js';
import type { EngineKeys } from './keys.js';

type Kind = 'zset' | 'hash' | 'set' | 'string';

/** The old key's name part, its type, and where its entries go now (`since` keeps the earlier time). */
const MOVED: readonly { name: string; kind: Kind; into: (keys: EngineKeys, instance: string) => string; score?: 'now' | 'lt' }[] = [
  { name: 'dirty', kind: 'zset', into: (k, i) => k.dirty(i) },
  { name: 'inflight', kind: 'zset', into: (k, i) => k.dirty(i), score: 'now' },
  { name: 'retry', kind: 'zset', into: (k, i) => k.retry(i) },
  { name: 'held', kind: 'zset', into: (k, i) => k.held(i) },
  { name: 'since', kind: 'zset', into: (k, i) => k.since(i), score: 'lt' },
  { name: 'changed', kind: 'zset', into: (k, i) => k.changed(i) },
  { name: 'changed-taken', kind: 'zset', into: (k, i) => k.changed(i), score: 'now' },
  { name: 'attempts', kind: 'hash', into: (k, i) => k.attempts(i) },
  { name: 'dead', kind: 'hash', into: (k, i) => k.dead(i) },
  { name: 'repush-origin', kind: 'hash', into: (k, i) => k.repushOrigin(i) },
  { name: 'changed-suspect', kind: 'hash', into: (k, i) => k.changedSuspect(i) },
  { name: 'repush', kind: 'set', into: (k, i) => k.repush(i) },
  { name: 'last-pull', kind: 'string', into: (k, i) => k.lastPull(i) },
  { name: 'lifts', kind: 'string', into: (k, i) => k.lifts(i) },
];

/** Members or fields written per command. */
const CHUNK = 1_000;

/**
 * Merges the earlier version's keys of these connectors into their current ones and deletes
 * them (see the module). One EXISTS when there is nothing to move. Returns how many keys moved.
 */
export async function moveLegacyConnectorKeys(
  redis: RedisClient,
  deployment: string,
  keys: EngineKeys,
  instances: readonly string[],
  logger: Logger,
): Promise<number> {
  const candidates = instances
    .flatMap((instance) =>
      MOVED.map((m) => ({ ...m, instance, from: `${deployment}:sync:${m.name}:${instance}`, to: m.into(keys, instance) })),
    )
    .filter((c) => c.from !== c.to);
  // The old keys all share the deployment's tag: one command asks for them all.
  if (candidates.length === 0 || (await redis.exists(...candidates.map((c) => c.from))) === 0) return 0;
  let moved = 0;
  for (const c of candidates) {
    if (await moveOne(redis, c)) moved++;
  }
  if (moved > 0)
    logger.info({ keys: moved, connectors: instances.length }, "moved an earlier version's engine keys onto each connector's hash tag");
  return moved;
}

async function moveOne(redis: RedisClient, c: { kind: Kind; from: string; to: string; score?: 'now' | 'lt' }): Promise<boolean> {
  switch (c.kind) {
    case 'zset': {
      const flat = await redis.zrange(c.from, 0, -1, 'WITHSCORES');
      if (flat.length === 0) return false;
      const now = Date.now();
      for (let i = 0; i < flat.length; i += 2 * CHUNK) {
        const args: (string | number)[] = [];
        const part = flat.slice(i, i + 2 * CHUNK);
        for (let k = 0; k < part.length; k += 2) args.push(c.score === 'now' ? now : (part[k + 1] as string), part[k] as string);
        await redis.zadd(c.to, c.score === 'lt' ? 'LT' : 'NX', ...args);
      }
      break;
    }
    case 'hash': {
      const all = await redis.hgetall(c.from);
      const entries = Object.entries(all);
      if (entries.length === 0) return false;
      for (let i = 0; i < entries.length; i += CHUNK) {
        const pipe = redis.pipeline();
        for (const [field, value] of entries.slice(i, i + CHUNK)) pipe.hsetnx(c.to, field, value);
        await execAll(pipe);
      }
      break;
    }
    case 'set': {
      const members = await redis.smembers(c.from);
      if (members.length === 0) return false;
      for (let i = 0; i < members.length; i += CHUNK) await redis.sadd(c.to, ...members.slice(i, i + CHUNK));
      break;
    }
    case 'string': {
      const value = await redis.get(c.from);
      if (value === null) return false;
      await redis.set(c.to, value, 'NX');
      break;
    }
  }
  await redis.del(c.from);
  return true;
}
