/**
 * A strict sliding-window limiter for calls to one external system, shared by every process
 * on the same Redis: at most `max` calls in any interval of `windowMs`, and none while a
 * 429's Retry-After is running. BullMQ's queue limiter paces push jobs; this one guards every
 * single request (pull pages, reads, p-retry repeats), so the API's limit is never exceeded.
 *
 * A slot is taken when a call starts and moved to the time the call ended once it has: the
 * system counts the request when it arrives, somewhere in between, so counting it at its end
 * keeps every window the system sees within the limit, whatever the delays on the way. Until
 * it is released, a slot counts as in flight (scored in the future, `IN_FLIGHT_LEASE_MS`
 * ahead, so a process that dies mid-call frees it eventually): a stalled event loop that
 * releases late can never let a new call in early.
 *
 * An operator can lift a park (`lift`): the block goes, and a counter of lifts moves on. Each
 * slot taken reads that counter in the same script; when it moved since this process last
 * looked, `onLifted` runs before the call, so every process drops what its live connector
 * instance still holds in memory (e.g. "no calls until the daily allowance resets").
 */
import { sleep } from '../connector/sleep.js';
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { LuaScript, NOW_MS_LUA } from './lua.js';
import type { EngineKeys } from './keys.js';
import { execAll } from './redis-health.js';

// KEYS: calls. ARGV: token. Moves the token's slot to now (when the call ended).
const RELEASE = new LuaScript(`
${NOW_MS_LUA}
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`);

// KEYS: calls, blocked, lifts. ARGV: max, windowMs, token, leaseMs.
// Returns {0, lifts} when acquired, else {ms to wait, lifts}.
const ACQUIRE = new LuaScript(`
${NOW_MS_LUA}
local lifts = tonumber(redis.call('GET', KEYS[3]) or '0')
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {blocked, lifts} end
local max, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < max then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + lease + 1000)
  return {0, lifts}
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
-- Every slot is in flight: poll until one is released.
if oldest > now then return {50, lifts} end
return {math.max(1, oldest + window - now + 1), lifts}
`);

// KEYS: blocked, lifts. Ends the block and counts the lift; returns the block's remaining ms.
const LIFT = new LuaScript(`
local left = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
return math.max(0, left)
`);

/** How long an unreleased slot counts as in flight (longer than any call's timeout). */
export const IN_FLIGHT_LEASE_MS = 180_000;

export interface CallLimit {
  max: number;
  windowMs: number;
}

/** What `callExternal` needs of a limiter: a slot per call, its release, and a block on a 429. */
export type CallSlots = Pick<CallLimiter, 'acquire' | 'release' | 'block'>;

export class CallLimiter {
  /** The lift counter of each system as this process last saw it. */
  private readonly seenLifts = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: EngineKeys,
    /** Added to every window, to absorb the delay between acquiring and the request arriving. */
    private readonly marginMs: number,
    /** Runs before the next call once a park of the system was lifted (by any process). */
    private readonly onLifted?: (instance: string) => void | Promise<void>,
  ) {}

  /** Takes a slot now if one is free (its token); otherwise says how long to wait (ms). */
  async tryReserve(instance: string, limit: CallLimit): Promise<{ token: string; wait: 0 } | { token: null; wait: number }> {
    const token = randomUUID();
    const [wait, lifts] = (await ACQUIRE.run(
      this.redis,
      [this.keys.calls(instance), this.keys.blocked(instance), this.keys.lifts(instance)],
      [limit.max, limit.windowMs + this.marginMs, token, IN_FLIGHT_LEASE_MS],
    )) as [number, number];
    const seen = this.seenLifts.get(instance);
    this.seenLifts.set(instance, lifts);
    if (seen !== undefined && seen !== lifts) await this.onLifted?.(instance);
    return wait <= 0 ? { token, wait: 0 } : { token: null, wait };
  }

  /** Takes a slot now if one is free; otherwise returns how long to wait (ms). */
  async tryAcquire(instance: string, limit: CallLimit): Promise<number> {
    return (await this.tryReserve(instance, limit)).wait;
  }

  /** Waits until a slot is free, then takes it; returns its token (for `release`). */
  async acquire(instance: string, limit: CallLimit, signal?: AbortSignal): Promise<string> {
    for (;;) {
      signal?.throwIfAborted();
      const slot = await this.tryReserve(instance, limit);
      if (slot.token !== null) return slot.token;
      await sleep(slot.wait, signal);
    }
  }

  /** The call that took this slot has ended: count it from now. */
  async release(instance: string, token: string): Promise<void> {
    await RELEASE.run(this.redis, [this.keys.calls(instance)], [token]);
  }

  /** Blocks every call to the system for `ms` (a 429 with Retry-After). */
  async block(instance: string, ms: number): Promise<void> {
    if (ms <= 0) return;
    // Keep the longer block when two answers overlap.
    const current = await this.redis.pttl(this.keys.blocked(instance));
    if (current >= ms) return;
    await this.redis.set(this.keys.blocked(instance), '1', 'PX', Math.ceil(ms));
  }

  /**
   * Lifts the park of a system (an operator's call): calls may go at once, and every process
   * hears of it before its next call (`onLifted`). Returns how long the block had left (ms).
   */
  async lift(instance: string): Promise<number> {
    return Number(await LIFT.run(this.redis, [this.keys.blocked(instance), this.keys.lifts(instance)], []));
  }

  /**
   * The budget spent towards a system (for operators): the calls counted in the window that
   * ends at `now`, slots still in flight included, and how long a block still runs (ms, 0 when
   * calls may go).
   */
  async usage(instance: string, windowMs: number, now = Date.now()): Promise<{ used: number; blockedForMs: number }> {
    const results = await execAll(
      this.redis
        .pipeline()
        .zcount(this.keys.calls(instance), now - windowMs, '+inf')
        .pttl(this.keys.blocked(instance)),
    );
    return { used: Number(results?.[0]?.[1] ?? 0), blockedForMs: Math.max(0, Number(results?.[1]?.[1] ?? 0)) };
  }

  /** Remaining block time in ms (0 when calls may go). */
  async blockedFor(instance: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keys.blocked(instance)));
  }
}
