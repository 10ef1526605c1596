/**
 * Changes per minute, per connector, in (records from the system that changed a profile) and
 * out (records the system accepted from a push), kept in Redis for two hours: what the
 * operations page (/admin) charts for the last hour. One hash per minute (`in:<instance>`,
 * `out:<instance>` -> count), written once per ingest or push batch, so every process adds to
 * the same counts and any api process reads them. Counting is best effort: a batch whose count
 * could not be written (Redis going away) is missing from the chart, never retried, and Redis
 * lost is an empty chart for the hour that follows.
 */
import type { RedisClient } from './redis-client.js';
import type { EngineKeys } from './keys.js';
import { execAll } from './redis-health.js';

export type ChangeDirection = 'in' | 'out';

/** How long a minute's counts are kept (the chart shows one hour). */
const KEEP_MS = 2 * 3_600_000;
const MINUTE_MS = 60_000;

/** One minute's counts: its start (ms since the epoch) and, per connector, changes in and out. */
export interface MinuteCounts {
  at: number;
  in: Record<string, number>;
  out: Record<string, number>;
}

export class ChangeCounts {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<EngineKeys, 'changesOfMinute'>,
  ) {}

  /** Adds `counts` (connector -> changes) in one direction to the minute of `at`. */
  async add(direction: ChangeDirection, counts: ReadonlyMap<string, number>, at = Date.now()): Promise<void> {
    const entries = [...counts].filter(([, n]) => n > 0);
    if (entries.length === 0) return;
    const key = this.keys.changesOfMinute(Math.floor(at / MINUTE_MS));
    const multi = this.redis.multi();
    for (const [connector, n] of entries) multi.hincrby(key, `${direction}:${connector}`, n);
    multi.pexpire(key, KEEP_MS);
    await execAll(multi);
  }

  /** The counts of the `minutes` minutes that end with the minute of `now`, oldest first (minutes without changes included). */
  async lastMinutes(minutes: number, now = Date.now()): Promise<MinuteCounts[]> {
    const last = Math.floor(now / MINUTE_MS);
    const wanted = Array.from({ length: minutes }, (_, i) => last - minutes + 1 + i);
    const pipeline = this.redis.pipeline();
    for (const minute of wanted) pipeline.hgetall(this.keys.changesOfMinute(minute));
    const results = (await pipeline.exec()) ?? [];
    return wanted.map((minute, i) => {
      const counts: MinuteCounts = { at: minute * MINUTE_MS, in: {}, out: {} };
      const [err, hash] = results[i] ?? [null, {}];
      if (err || typeof hash !== 'object' || hash === null) return counts;
      for (const [field, value] of Object.entries(hash as Record<string, string>)) {
        const sep = field.indexOf(':');
        const direction = field.slice(0, sep);
        if (direction === 'in' || direction === 'out') counts[direction][field.slice(sep + 1)] = Number(value);
      }
      return counts;
    });
  }
}
