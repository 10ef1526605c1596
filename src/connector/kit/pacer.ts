/**
 * Paces calls under a rolling-window limit (HubSpot, Mailchimp and most SaaS APIs count
 * requests over a rolling window). It counts this process's own calls and folds in what the
 * vendor says is left (HubSpot's `X-HubSpot-RateLimit-Remaining`), so calls made elsewhere
 * with the same credentials slow it down too.
 */
import { sleep } from '../sleep.js';
import { RateLimitedError } from '../errors.js';

export interface PacerOptions {
  max: number;
  windowMs: number;
  now: () => number;
  /** Added to each wait, for the time between sending and HubSpot counting a request. */
  marginMs?: number;
  /** A wait longer than this is not slept: a `RateLimitedError` parks the caller instead. */
  maxWaitMs?: number;
  /** The policy name a refused wait reports. */
  policy: string;
}

export class Pacer {
  /** The slots held in the window: each call's, from when it was taken until its answer (`answered`), in order. */
  private times: number[] = [];
  /**
   * When each call known in the window was sent (ours, and those the vendor reported made
   * elsewhere), in order: a slot taken with `take` is sent at once; one of `tryTake`/`takeMany`
   * when its caller says so (`sending`), and never when it is given back unused.
   */
  private sent: number[] = [];
  private blockedUntil = 0;

  constructor(private readonly opts: PacerOptions) {}

  /** How long the next call would have to wait (0 when it may go now). */
  waitMs(): number {
    const now = this.opts.now();
    this.prune(now);
    const blocked = Math.max(0, this.blockedUntil - now);
    if (this.times.length < this.opts.max) return blocked;
    const oldest = this.times[this.times.length - this.opts.max] ?? now;
    return Math.max(blocked, oldest + this.opts.windowMs + (this.opts.marginMs ?? 0) - now);
  }

  /** Waits for a slot and takes it; returns the time it was taken at. */
  async take(signal?: AbortSignal): Promise<number> {
    for (;;) {
      const wait = this.waitMs();
      if (wait <= 0) break;
      if (this.opts.maxWaitMs !== undefined && wait > this.opts.maxWaitMs) {
        throw new RateLimitedError(`pacing: next ${this.opts.policy} slot in ${wait} ms`, { retryAfterMs: wait, policy: this.opts.policy });
      }
      await sleep(wait, signal);
    }
    const at = this.opts.now();
    this.times.push(at);
    this.sent.push(at);
    return at;
  }

  /**
   * Takes `n` slots at once when the window has room for all of them now (a caller that must
   * not wait between its calls); otherwise takes nothing and says how long until it has room.
   */
  tryTake(n: number): { at: number } | { waitMs: number } {
    const now = this.opts.now();
    this.prune(now);
    const wanted = Math.min(Math.max(1, n), this.opts.max);
    let wait = Math.max(0, this.blockedUntil - now);
    const excess = this.times.length + wanted - this.opts.max;
    if (excess > 0) {
      // The `excess` oldest slots must age out first (the times are kept in order).
      const freeing = this.times[excess - 1] ?? now;
      wait = Math.max(wait, freeing + this.opts.windowMs + (this.opts.marginMs ?? 0) - now);
    }
    if (wait > 0) return { waitMs: wait };
    for (let i = 0; i < wanted; i++) this.times.push(now);
    return { at: now };
  }

  /** One call of slots taken with `tryTake`/`takeMany` goes out now; returns the time. */
  sending(): number {
    const at = this.opts.now();
    this.sent.push(at);
    return at;
  }

  /** Gives back `n` slots taken at `at` and not used. */
  release(at: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const k = this.times.lastIndexOf(at);
      if (k < 0) return;
      this.times.splice(k, 1);
    }
  }

  /** Waits until `n` slots fit at once and takes them (a `RateLimitedError` past `maxWaitMs`, as `take`). */
  async takeMany(n: number, signal?: AbortSignal): Promise<number> {
    for (;;) {
      const taken = this.tryTake(n);
      if ('at' in taken) return taken.at;
      if (this.opts.maxWaitMs !== undefined && taken.waitMs > this.opts.maxWaitMs) {
        throw new RateLimitedError(`pacing: next ${n} ${this.opts.policy} slots in ${taken.waitMs} ms`, {
          retryAfterMs: taken.waitMs,
          policy: this.opts.policy,
        });
      }
      await sleep(taken.waitMs, signal);
    }
  }

  /**
   * The call whose slot was taken at `takenAt` was answered at `at`. HubSpot counted it at
   * some point in between; under load that can be well after the slot was taken, so the slot
   * is held until the answer (a later window start can only be safer).
   */
  answered(takenAt: number, at: number): void {
    const i = this.times.lastIndexOf(takenAt);
    if (i < 0 || at <= takenAt) return;
    this.times[i] = at;
    this.times.sort((a, b) => a - b);
  }

  /**
   * Folds in the server's view: after the request taken at `sentAt`, `remaining` calls were
   * left in its window. Calls the server counted that this process did not make are added at
   * `sentAt` (not at the time the answer arrived, which would push the window forward). The
   * calls it made are counted by when they were sent (a slot held until its answer is still a
   * call the server may have counted; a slot reserved and not yet used is not). Calls sent at
   * once may be counted in either order: one made elsewhere can go unseen until a later answer.
   */
  observeRemaining(remaining: number, sentAt: number): void {
    const used = this.opts.max - remaining;
    const counted = this.sent.filter((t) => t > sentAt - this.opts.windowMs && t <= sentAt).length;
    if (used <= counted) return;
    for (let i = counted; i < used; i++) {
      this.times.push(sentAt);
      this.sent.push(sentAt);
    }
    this.times.sort((a, b) => a - b);
    this.sent.sort((a, b) => a - b);
  }

  /** Forgets what has left the window. */
  private prune(now: number): void {
    this.times = this.times.filter((t) => t > now - this.opts.windowMs);
    this.sent = this.sent.filter((t) => t > now - this.opts.windowMs);
  }

  /** No call before `now + ms` (after a 429). */
  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.opts.now() + ms);
  }

  /** Forgets the block of a 429 (an operator lifted the park); the window's own pace stays. */
  unblock(): void {
    this.blockedUntil = 0;
  }
}
