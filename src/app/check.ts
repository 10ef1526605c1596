/**
 * The hub's own checks for `concord check`: Redis answers (and keeps queued jobs: BullMQ needs
 * `maxmemory-policy noeviction`), the database is reachable and its schema current. Each is one
 * line, ✔ or ✘, a ✘ naming the config key and the fix; nothing is written anywhere.
 */
import type { ConnectionCheck } from '../connector/define.js';
import { createRedisClient } from '../queue/redis-client.js';
import type { RedisTarget } from '../queue/redis-client.js';
import { redisUrlForLog } from './redis.js';
import { databaseStatus } from '../store/index.js';

/** How long each hub check may take. */
const TIMEOUT_MS = 5_000;

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error)) || 'no answer';

/** Redis answers PING, and does not evict keys (queued jobs would vanish). */
export async function checkRedis(url: RedisTarget): Promise<ConnectionCheck[]> {
  const redis = createRedisClient(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  const where = redisUrlForLog(url);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    return [
      {
        ok: false,
        detail: `Redis at ${where} does not answer: ${reason(error)}`,
        path: ['hub', 'redisUrl'],
        fix: 'start Redis, or set hub.redisUrl (REDIS_URL) to one the hub can reach',
      },
    ];
  }
  try {
    const policy = await redis.config('GET', 'maxmemory-policy').then(
      (answer) => (Array.isArray(answer) ? answer[1] : undefined),
      () => undefined,
    );
    if (policy === undefined) return [{ ok: true, detail: `Redis at ${where} answers (its eviction policy cannot be read here)` }];
    if (policy !== 'noeviction') {
      return [
        {
          ok: false,
          detail: `Redis at ${where} answers but evicts keys under memory pressure (maxmemory-policy ${String(policy)}): queued jobs could vanish`,
          path: ['hub', 'redisUrl'],
          fix: 'set maxmemory-policy noeviction on that Redis (redis.conf or CONFIG SET), as BullMQ requires',
        },
      ];
    }
    return [{ ok: true, detail: `Redis at ${where} answers (maxmemory-policy noeviction)` }];
  } finally {
    redis.disconnect();
  }
}

/** The database answers and has every migration of this version (and none newer). */
export async function checkDatabase(url: string): Promise<ConnectionCheck[]> {
  const where = redisUrlForLog(url);
  const path = ['hub', 'databaseUrl'];
  let status;
  try {
    status = await databaseStatus(url, { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    return [
      {
        ok: false,
        detail: `the database at ${where} cannot be reached: ${reason(error)}`,
        path,
        fix: 'start the database, or set hub.databaseUrl (DATABASE_URL) to one the hub can reach with its credentials',
      },
    ];
  }
  if (status.unknown.length > 0) {
    return [
      {
        ok: false,
        detail: `the database at ${where} has migrations this version does not know (${status.unknown.join(', ')})`,
        path,
        fix: 'upgrade Concord to the version that wrote them',
      },
    ];
  }
  if (!status.exists && status.dialect === 'sqlite' && status.pending.length > 0) {
    return [
      {
        ok: false,
        detail: `the database file of ${where} does not exist yet`,
        path,
        fix: 'run concord migrate (the hub also creates it when it starts)',
      },
    ];
  }
  if (status.pending.length > 0) {
    return [
      {
        ok: false,
        detail: `the database at ${where} lacks ${status.pending.length} migrations (${status.pending.join(', ')})`,
        path,
        fix: 'run concord migrate (the hub also applies them when it starts)',
      },
    ];
  }
  return [{ ok: true, detail: `the database at ${where} answers and its schema is current` }];
}
