/**
 * The call limiter's rules (at most `max` calls in any `windowMs`, none while a 429's Retry-After
 * runs, a slot in flight counts until released) kept in this process's memory, for a command that
 * must write nothing anywhere, Redis included: `concord plan`. It does not share the budget with
 * a hub that runs at the same time (the shared `CallLimiter` does).
 */
import { randomUUID } from 'node:crypto';
import { sleep } from '../connector/sleep.js';
import type { CallLimit, CallSlots } from './call-limiter.js';

/** How often to look again while every slot is in flight (ms). */
const IN_FLIGHT_POLL_MS = 50;

export class LocalCallLimiter implements CallSlots {
  /** Per system: token -> when its call ended (`Infinity` while in flight). */
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly blockedUntil = new Map<string, number>();

  /** @param marginMs added to every window, as the shared limiter does. */
  constructor(private readonly marginMs = 0) {}

  async acquire(instance: string, limit: CallLimit, signal?: AbortSignal): Promise<string> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.waitFor(instance, limit, Date.now());
      if (wait <= 0) {
        const token = randomUUID();
        this.slotsOf(instance).set(token, Number.POSITIVE_INFINITY);
        return token;
      }
      await sleep(wait, signal);
    }
  }

  release(instance: string, token: string): Promise<void> {
    const slots = this.slotsOf(instance);
    if (slots.has(token)) slots.set(token, Date.now());
    return Promise.resolve();
  }

  block(instance: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    if (ms > 0 && until > (this.blockedUntil.get(instance) ?? 0)) this.blockedUntil.set(instance, until);
    return Promise.resolve();
  }

  private slotsOf(instance: string): Map<string, number> {
    let slots = this.slots.get(instance);
    if (!slots) {
      slots = new Map();
      this.slots.set(instance, slots);
    }
    return slots;
  }

  /** ms until a slot is free (0: now). */
  private waitFor(instance: string, limit: CallLimit, now: number): number {
    const blocked = (this.blockedUntil.get(instance) ?? 0) - now;
    if (blocked > 0) return blocked;
    const window = limit.windowMs + this.marginMs;
    const slots = this.slotsOf(instance);
    for (const [token, ended] of slots) if (ended <= now - window) slots.delete(token);
    if (slots.size < limit.max) return 0;
    const oldest = Math.min(...slots.values());
    return oldest === Number.POSITIVE_INFINITY ? IN_FLIGHT_POLL_MS : Math.max(1, oldest + window - now + 1);
  }
}
