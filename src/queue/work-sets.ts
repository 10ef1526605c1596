/**
 * The per-connector sets that carry profiles from the outbox to a push, in Redis:
 * `dirty` (waiting, scored by when they became dirty), `inflight` (taken by a push, scored by
 * lease expiry), `retry` (backing off, scored by when they are due) and `held` (creates waiting
 * for the instance's first full pull, see `sync/initial-sync.ts`). A profile is never in
 * flight twice for one connector, so two pushes of one profile to one system never race. A
 * crashed push leaves its profiles in flight until the lease expires; the next take moves
 * them back to dirty, so nothing is lost.
 */
import type { RedisClient } from './redis-client.js';
import { execAll } from './redis-health.js';
import { groupBy } from './group-by.js';
import { LuaScript, NOW_MS_LUA } from './lua.js';
import type { EngineKeys } from './keys.js';

/** What asked for a profile to be pushed again (`engine.pushAgain`): its push run records it. */
export interface RepushOrigin {
  trigger: 'manual' | 'api';
  requestId: string;
}

// KEYS: dirty, inflight, retry. ARGV: count, leaseMs, maxWaitMs.
// Takes the `count` oldest dirty profiles that are not in flight (a profile in flight, pushed
// or held by ingest, stays dirty for a later take). Takes nothing while fewer than `count` can
// be taken and the oldest of them has waited less than maxWaitMs.
// Returns {dirtyLeft, nextRetryAt or -1, waitUntil or -1, taken...}.
const TAKE = new LuaScript(`
${NOW_MS_LUA}
local dirty, inflight, retry = KEYS[1], KEYS[2], KEYS[3]
local count, lease, maxWait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- Due retries and expired leases are overdue already: they go first and are not held back.
local overdue = now - maxWait
local due = redis.call('ZRANGEBYSCORE', retry, '-inf', now)
for _, m in ipairs(due) do redis.call('ZADD', dirty, 'LT', overdue, m) end
if #due > 0 then redis.call('ZREMRANGEBYSCORE', retry, '-inf', now) end
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now)
for _, m in ipairs(expired) do redis.call('ZADD', dirty, 'LT', overdue, m) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now) end
local taken, scores, deferred = {}, {}, {}
local waitUntil = -1
if count > 0 then
  -- Pop until the batch is full or nothing is left; members in flight are set aside.
  while #taken < count do
    local popped = redis.call('ZPOPMIN', dirty, count - #taken)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local m, score = popped[i], popped[i + 1]
      if redis.call('ZSCORE', inflight, m) then
        deferred[#deferred + 1] = score
        deferred[#deferred + 1] = m
      else
        taken[#taken + 1] = m
        scores[#scores + 1] = score
      end
    end
  end
  if #taken > 0 and #taken < count and tonumber(scores[1]) > overdue then
    -- A partial batch whose oldest has not waited long enough: put it back and wait.
    waitUntil = tonumber(scores[1]) + maxWait
    for i = 1, #taken do
      deferred[#deferred + 1] = scores[i]
      deferred[#deferred + 1] = taken[i]
    end
    taken = {}
  end
  for _, m in ipairs(taken) do redis.call('ZADD', inflight, now + lease, m) end
  -- In chunks: unpack has a limit on how many values it returns.
  for i = 1, #deferred, 1000 do
    redis.call('ZADD', dirty, 'NX', unpack(deferred, i, math.min(i + 999, #deferred)))
  end
end
local nextRetry = redis.call('ZRANGE', retry, 0, 0, 'WITHSCORES')
local result = { redis.call('ZCARD', dirty), nextRetry[2] and tonumber(nextRetry[2]) or -1, waitUntil }
for _, m in ipairs(taken) do result[#result + 1] = m end
return result
`);

// KEYS: one connector's in-flight set. ARGV: until, then members. Returns 1/0 per member.
const LOCK = new LuaScript(`
local leaseEnd = ARGV[1]
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('ZADD', KEYS[1], 'NX', leaseEnd, ARGV[i])
end
return out
`);

export interface TakeResult {
  profileIds: string[];
  /** Profiles still dirty after the take. */
  dirtyLeft: number;
  /** When the earliest backing-off profile is due (ms), if any. */
  nextRetryAt: number | null;
  /** Nothing was taken because the partial batch is still young: look again at this time (ms). */
  waitUntil: number | null;
}

/** A connector's dirty set after a `markDirty`. */
export interface DirtyMark {
  /** Profiles dirty now. */
  dirty: number;
  /**
   * The mark found the connector's push stage idle: nothing dirty (waiting for a batch to fill)
   * and nothing marked dirty for it in the last `idleAfterMs`.
   */
  idle: boolean;
}

export class WorkSets {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: EngineKeys,
  ) {}

  /**
   * Marks profiles dirty for each connector; returns, per connector, how many are dirty
   * afterwards and, when `idleAfterMs` is given, whether the mark found its push stage idle
   * (nothing dirty before it, and nothing marked in the last `idleAfterMs`; the mark itself
   * makes the stage busy for as long).
   */
  async markDirty(byInstance: ReadonlyMap<string, readonly string[]>, idleAfterMs?: number): Promise<Map<string, DirtyMark>> {
    const now = Date.now();
    const marks = new Map<string, DirtyMark>();
    // One pipeline per connector: each connector's keys are on a hash tag of their own.
    await Promise.all(
      [...byInstance].map(async ([instance, ids]) => {
        if (ids.length === 0) return;
        const args: (string | number)[] = [];
        for (const id of ids) args.push(now, id);
        const pipe = this.redis
          .pipeline()
          .zadd(this.keys.dirty(instance), 'NX', ...args)
          .zcard(this.keys.dirty(instance));
        // The previous mark's time, if it is recent: SET ... GET answers it and renews the window.
        if (idleAfterMs !== undefined) pipe.set(this.keys.lastDirty(instance), now, 'PX', Math.max(1, idleAfterMs), 'GET');
        const [added, entry, last] = (await execAll(pipe)) ?? [];
        if (!entry || entry[0]) return;
        const dirty = Number(entry[1]);
        // Dirty now are only the profiles this mark added, and the last mark is older than the window.
        const idle = last !== undefined && !last[0] && last[1] === null && !added?.[0] && Number(added?.[1]) === dirty;
        marks.set(instance, { dirty, idle });
      }),
    );
    return marks;
  }

  /**
   * Moves up to `count` dirty profiles in flight for `leaseMs`. A partial batch is only taken
   * once its oldest profile has waited `maxWaitMs`. `count` 0 only sweeps (due retries and
   * expired leases back to dirty).
   */
  async take(instance: string, count: number, leaseMs: number, maxWaitMs = 0): Promise<TakeResult> {
    const raw = (await TAKE.run(
      this.redis,
      [this.keys.dirty(instance), this.keys.inflight(instance), this.keys.retry(instance)],
      [count, leaseMs, maxWaitMs],
    )) as (string | number)[];
    const [dirtyLeft, nextRetry, waitUntil, ...taken] = raw;
    return {
      profileIds: taken.map(String),
      dirtyLeft: Number(dirtyLeft),
      nextRetryAt: Number(nextRetry) >= 0 ? Number(nextRetry) : null,
      waitUntil: Number(waitUntil) >= 0 ? Number(waitUntil) : null,
    };
  }

  /** How many profiles are dirty now, and since when the oldest is (ms). */
  async dirtyState(instance: string): Promise<{ count: number; oldestAt: number | null }> {
    const results = await execAll(
      this.redis.pipeline().zcard(this.keys.dirty(instance)).zrange(this.keys.dirty(instance), 0, 0, 'WITHSCORES'),
    );
    const oldest = results?.[1]?.[1] as string[] | undefined;
    return { count: Number(results?.[0]?.[1] ?? 0), oldestAt: oldest?.[1] === undefined ? null : Number(oldest[1]) };
  }

  /**
   * Ingest takes a profile in flight too, while it compares a record with the shadow and
   * commits: a push and an ingest of one profile and connector never overlap, so neither
   * works from a shadow the other is about to change. Returns the refs it could take.
   */
  async lockForIngest(refs: readonly { connector: string; profileId: string }[], leaseMs: number): Promise<boolean[]> {
    if (refs.length === 0) return [];
    const until = Date.now() + leaseMs;
    const taken: boolean[] = refs.map(() => false);
    // One script per connector (its in-flight set is on the connector's hash tag), all at once.
    const byConnector = groupBy(
      refs.map((ref, i) => ({ ...ref, i })),
      (r) => r.connector,
    );
    const settled = await Promise.allSettled(
      [...byConnector].map(async ([connector, list]) => {
        const args: (string | number)[] = [until];
        for (const r of list) args.push(r.profileId);
        const answers = (await LOCK.run(this.redis, [this.keys.inflight(connector)], args)) as number[];
        list.forEach((r, k) => (taken[r.i] = Number(answers[k]) === 1));
      }),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      // All or nothing, as one script was: what the other connectors' scripts took is let go,
      // or it would hold those profiles against pushes until the lease ran out.
      await this.unlockForIngest(refs.filter((_, i) => taken[i])).catch(() => undefined);
      throw failed.reason;
    }
    return taken;
  }

  async unlockForIngest(refs: readonly { connector: string; profileId: string }[]): Promise<void> {
    if (refs.length === 0) return;
    await Promise.all(
      [...groupBy(refs, (r) => r.connector)].map(([connector, ids]) =>
        this.redis.zrem(this.keys.inflight(connector), ...ids.map((r) => r.profileId)),
      ),
    );
  }

  /**
   * Keeps the leases of a holder (a push, or an ingest batch) alive while it works: renews them
   * every third of `leaseMs` for the profiles `held()` names at that moment (a push adds the
   * profiles it takes to top up its batch). A lease is only the crash guard; a holder that
   * merely runs long (a slow system, a loaded database) must not lose it, or the next take moves
   * its profiles back to dirty and a second push of the same profile runs beside the first: the
   * slower, older write then lands last in the system and in the shadow, and the newer value is
   * lost there. Renewing only touches profiles still in flight, so a profile the holder settled
   * is not taken back. Returns the function that stops renewing.
   */
  keepLeases(
    held: () => readonly { connector: string; profileId: string }[],
    leaseMs: number,
    onError: (err: unknown) => void,
  ): () => void {
    const timer = setInterval(
      () => {
        const refs = held();
        void Promise.all(
          [...groupBy(refs, (r) => r.connector)].map(([connector, list]) =>
            this.extend(
              connector,
              list.map((r) => r.profileId),
              leaseMs,
            ),
          ),
        ).catch(onError);
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Extends the lease of profiles still being pushed. */
  async extend(instance: string, profileIds: readonly string[], leaseMs: number): Promise<void> {
    if (profileIds.length === 0) return;
    const until = Date.now() + leaseMs;
    const args: (string | number)[] = [];
    for (const id of profileIds) args.push(until, id);
    await this.redis.zadd(this.keys.inflight(instance), 'XX', ...args);
  }

  /**
   * Settles profiles whose push finished (delivered, nothing to send, or dead-lettered).
   * Returns, per profile, the earliest receive time (ms) of the changes now settled, if known.
   */
  async done(instance: string, profileIds: readonly string[]): Promise<(number | null)[]> {
    if (profileIds.length === 0) return [];
    const results = await execAll(
      this.redis
        .multi()
        .zmscore(this.keys.since(instance), ...profileIds)
        .zrem(this.keys.since(instance), ...profileIds)
        .zrem(this.keys.inflight(instance), ...profileIds)
        .hdel(this.keys.attempts(instance), ...profileIds)
        .srem(this.keys.repush(instance), ...profileIds)
        .hdel(this.keys.repushOrigin(instance), ...profileIds),
    );
    const scores = (results?.[0]?.[1] ?? []) as (string | null)[];
    return profileIds.map((_, i) => (scores[i] == null ? null : Number(scores[i])));
  }

  /** Puts profiles back to dirty at once (the call failed as a whole or was rate limited). */
  async requeue(instance: string, profileIds: readonly string[]): Promise<void> {
    await this.outOfFlight(instance, profileIds, this.keys.dirty(instance));
  }

  /**
   * Moves profiles a push took out of flight into the held set: records it would create in a
   * system whose first full pull has not finished. No take sees them until `releaseHeld`.
   */
  async hold(instance: string, profileIds: readonly string[]): Promise<void> {
    await this.outOfFlight(instance, profileIds, this.keys.held(instance));
  }

  /** Moves profiles from the in-flight set into `target` (scored now, an earlier score kept). */
  private async outOfFlight(instance: string, profileIds: readonly string[], target: string): Promise<void> {
    if (profileIds.length === 0) return;
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const id of profileIds) args.push(now, id);
    await execAll(
      this.redis
        .multi()
        .zrem(this.keys.inflight(instance), ...profileIds)
        .zadd(target, 'NX', ...args),
    );
  }

  /** Makes every held profile dirty again (the earlier time kept when it is dirty already); returns how many were held. */
  async releaseHeld(instance: string): Promise<number> {
    const held = this.keys.held(instance);
    const dirty = this.keys.dirty(instance);
    const results = await execAll(this.redis.multi().zcard(held).zunionstore(dirty, 2, dirty, held, 'AGGREGATE', 'MIN').del(held));
    return Number(results?.[0]?.[1] ?? 0);
  }

  /** How many profiles are held (see `hold`). */
  async heldCount(instance: string): Promise<number> {
    return this.redis.zcard(this.keys.held(instance));
  }

  /** How many retryable outcomes each profile has had so far. */
  async attempts(instance: string, profileIds: readonly string[]): Promise<number[]> {
    if (profileIds.length === 0) return [];
    const values = await this.redis.hmget(this.keys.attempts(instance), ...profileIds);
    return values.map((v) => (v === null ? 0 : Number(v)));
  }

  /** Backs profiles off: they become dirty again after their delay. */
  async retryLater(instance: string, items: readonly { profileId: string; delayMs: number }[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const ids = items.map((i) => i.profileId);
    const multi = this.redis.multi();
    multi.zrem(this.keys.inflight(instance), ...ids);
    for (const item of items) {
      multi.zadd(this.keys.retry(instance), now + item.delayMs, item.profileId);
      multi.hincrby(this.keys.attempts(instance), item.profileId, 1);
    }
    await execAll(multi);
  }

  /** Remembers the earliest receive time of undelivered changes, per target and profile. */
  async noteReceived(entries: readonly { instance: string; profileId: string; receivedAtMs: number }[]): Promise<void> {
    if (entries.length === 0) return;
    await Promise.all(
      [...groupBy(entries, (e) => e.instance)].map(([instance, list]) => {
        const args: (string | number)[] = [];
        for (const e of list) args.push(e.receivedAtMs, e.profileId);
        return this.redis.zadd(this.keys.since(instance), 'LT', ...args);
      }),
    );
  }

  /**
   * Marks profiles to be pushed again whole to one connector (an operator's `concord push`):
   * dirty now, and their next push sends every mapped field, not only what differs from the
   * shadow. The mark goes when a push finishes with them (`done`); a retry keeps it.
   */
  async repush(instance: string, profileIds: readonly string[], origin?: RepushOrigin): Promise<void> {
    if (profileIds.length === 0) return;
    const multi = this.redis.multi().sadd(this.keys.repush(instance), ...profileIds);
    if (origin) for (const id of profileIds) multi.hset(this.keys.repushOrigin(instance), id, JSON.stringify(origin));
    await execAll(multi);
    await this.markDirty(new Map([[instance, profileIds]]));
  }

  /** Who asked to push the first of `profileIds` that waits to be pushed again (see `repush`), if any. */
  async repushOrigin(instance: string, profileIds: readonly string[]): Promise<RepushOrigin | null> {
    if (profileIds.length === 0) return null;
    const values = await this.redis.hmget(this.keys.repushOrigin(instance), ...profileIds);
    const first = values.find((v) => v !== null);
    return first == null ? null : (JSON.parse(first) as RepushOrigin);
  }

  /** Which of `profileIds` still wait to be pushed again whole to the connector (see `repush`). */
  async repushing(instance: string, profileIds: readonly string[]): Promise<Set<string>> {
    if (profileIds.length === 0) return new Set();
    const marks = await this.redis.smismember(this.keys.repush(instance), ...profileIds);
    return new Set(profileIds.filter((_, i) => marks[i] === 1));
  }

  /** Counts per set, for status. */
  async depths(instance: string): Promise<{ dirty: number; inflight: number; retry: number; dead: number; held: number }> {
    const results = await execAll(
      this.redis
        .pipeline()
        .zcard(this.keys.dirty(instance))
        .zcard(this.keys.inflight(instance))
        .zcard(this.keys.retry(instance))
        .hlen(this.keys.dead(instance))
        .zcard(this.keys.held(instance)),
    );
    const n = (i: number): number => Number(results?.[i]?.[1] ?? 0);
    return { dirty: n(0), inflight: n(1), retry: n(2), dead: n(3), held: n(4) };
  }
}
