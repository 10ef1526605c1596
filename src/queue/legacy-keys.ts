/**
 * Moving an earlier version's engine keys. Up to version 0.1 every connector's engine keys were
 * on the deployment's hash tag (`{concord}:sync:dirty:hubspot`); now each connector's are on its
 * own (`{concord.sync.hubspot}:sync:dirty:hubspot`, see `connectorPrefix`). At start, what the
 * long-lived ones still hold under the old names is merged into the new ones and the old keys
 * are deleted, so an upgrade loses no dead letter, back-off, held create, `concord push` mark or
 * pull record. Entries under the new names win; profiles an earlier process had in flight
 * become dirty. One process moves at a time (a lock on the deployment's tag): a second one
 * starting meanwhile waits, so nothing it read is written back after the first one's workers
 * replayed or cleared it. Every process of the earlier version must be stopped first (it would
 * go on writing the old keys). Short-lived keys (write log, webhook receipts, limiter window)
 * are left to expire.
 */
import type { Logger } from 'pino';
import type { RedisClient } from './redis-client.js';
import { execAll } from './redis-health.js';
import type { EngineKeys } from './keys.js';
import { withUpgradeLock } from './upgrade-lock.js';

type Kind = 'zset' | 'hash' | 'set' | 'counter' | 'string' | 'expiring';

interface Moved {
  /** The old key's name part (`<deployment>:sync:<name>:<instance>`). */
  name: string;
  kind: Kind;
  /** Where its entries go now; none: deleted only. */
  into?: (keys: EngineKeys, instance: string) => string;
  /**
   * Sorted sets: `lt` keeps the earlier score; `now` scores the members now (an earlier score
   * under the new name kept); `taken` by when each was received (`changed-taken-at`), else now.
   */
  score?: 'lt' | 'now' | 'taken';
}

const MOVED: readonly Moved[] = [
  { name: 'dirty', kind: 'zset', into: (k, i) => k.dirty(i) },
  // In flight for a process that is gone: waiting again, from now (its score was a lease's end).
  { name: 'inflight', kind: 'zset', into: (k, i) => k.dirty(i), score: 'now' },
  { name: 'retry', kind: 'zset', into: (k, i) => k.retry(i) },
  { name: 'held', kind: 'zset', into: (k, i) => k.held(i) },
  { name: 'since', kind: 'zset', into: (k, i) => k.since(i), score: 'lt' },
  { name: 'changed', kind: 'zset', into: (k, i) => k.changed(i), score: 'lt' },
  { name: 'changed-taken', kind: 'zset', into: (k, i) => k.changed(i), score: 'taken' },
  { name: 'changed-taken-at', kind: 'hash' },
  { name: 'attempts', kind: 'hash', into: (k, i) => k.attempts(i) },
  { name: 'dead', kind: 'hash', into: (k, i) => k.dead(i) },
  { name: 'repush-origin', kind: 'hash', into: (k, i) => k.repushOrigin(i) },
  { name: 'changed-suspect', kind: 'hash', into: (k, i) => k.changedSuspect(i) },
  { name: 'repush', kind: 'set', into: (k, i) => k.repush(i) },
  { name: 'last-pull', kind: 'string', into: (k, i) => k.lastPull(i) },
  { name: 'lifts', kind: 'counter', into: (k, i) => k.lifts(i) },
  // A vendor's 429 asked us to wait: the new processes wait out the rest of it.
  { name: 'blocked', kind: 'expiring', into: (k, i) => k.blocked(i) },
];

/** Members or fields read and written per command. */
const CHUNK = 1_000;

/**
 * Merges the earlier version's keys of these connectors into their current ones and deletes
 * them (see the module). One EXISTS when there is nothing to move. Returns how many keys moved
 * (0 when another process moved them).
 */
export async function moveLegacyConnectorKeys(
  redis: RedisClient,
  deployment: string,
  keys: EngineKeys,
  instances: readonly string[],
  logger: Logger,
): Promise<number> {
  const candidates = instances
    .flatMap((instance) => MOVED.map((m) => ({ ...m, instance, from: `${deployment}:sync:${m.name}:${instance}` })))
    .filter((c) => c.into === undefined || c.into(keys, c.instance) !== c.from);
  // The old keys and the lock all share the deployment's tag: one command asks for them all.
  const old = candidates.map((c) => c.from);
  if (old.length === 0 || (await redis.exists(...old)) === 0) return 0;
  const moved = await withUpgradeLock(
    redis,
    `${deployment}:sync:upgrade-lock`,
    async () => (await redis.exists(...old)) > 0,
    async (renew) => {
      let count = 0;
      for (const c of candidates) {
        await renew();
        if (await moveOne(redis, c.from, c.into?.(keys, c.instance) ?? null, c, `${deployment}:sync:changed-taken-at:${c.instance}`))
          count++;
      }
      return count;
    },
  );
  if (moved !== undefined && moved > 0)
    logger.info({ keys: moved, connectors: instances.length }, "moved an earlier version's engine keys onto each connector's hash tag");
  return moved ?? 0;
}

async function moveOne(redis: RedisClient, from: string, to: string | null, m: Moved, takenAtKey: string): Promise<boolean> {
  if ((await redis.exists(from)) === 0) return false;
  if (to !== null) {
    switch (m.kind) {
      case 'zset':
        await moveSortedSet(redis, from, to, m.score, takenAtKey);
        break;
      case 'hash':
        await scanAll(
          (cursor) => redis.hscan(from, cursor, 'COUNT', CHUNK),
          async (flat) => {
            const pipe = redis.pipeline();
            for (let k = 0; k < flat.length; k += 2) pipe.hsetnx(to, flat[k] as string, flat[k + 1] as string);
            await execAll(pipe);
          },
        );
        break;
      case 'set':
        await scanAll(
          (cursor) => redis.sscan(from, cursor, 'COUNT', CHUNK),
          (members) => redis.sadd(to, ...members),
        );
        break;
      case 'string': {
        const value = await redis.get(from);
        if (value !== null) await redis.set(to, value, 'NX');
        break;
      }
      case 'counter': {
        const value = Number(await redis.get(from));
        if (Number.isFinite(value) && value !== 0) await redis.incrby(to, value);
        break;
      }
      case 'expiring': {
        const [value, ttl] = await Promise.all([redis.get(from), redis.pttl(from)]);
        if (value !== null && ttl > 0) await redis.set(to, value, 'PX', ttl, 'NX');
        break;
      }
    }
  }
  await redis.unlink(from);
  return true;
}

async function moveSortedSet(redis: RedisClient, from: string, to: string, score: Moved['score'], takenAtKey: string): Promise<void> {
  await scanAll(
    (cursor) => redis.zscan(from, cursor, 'COUNT', CHUNK),
    async (flat) => {
      const members = flat.filter((_, k) => k % 2 === 0);
      const receivedAt = score === 'taken' ? await redis.hmget(takenAtKey, ...members) : [];
      const now = Date.now();
      const args: (string | number)[] = [];
      members.forEach((member, k) => {
        const at = score === 'taken' ? Number(receivedAt[k] ?? now) : score === 'now' ? now : Number(flat[2 * k + 1]);
        args.push(Number.isFinite(at) ? at : now, member);
      });
      await redis.zadd(to, score === undefined ? 'NX' : 'LT', ...args);
    },
  );
}

/** Walks a SCAN-style command (`[cursor, items]`) to the end, handing each non-empty page on. */
async function scanAll(page: (cursor: string) => Promise<[string, string[]]>, take: (items: string[]) => Promise<unknown>): Promise<void> {
  let cursor = '0';
  do {
    const [next, items] = await page(cursor);
    if (items.length > 0) await take(items);
    cursor = next;
  } while (cursor !== '0');
}
