import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../errors.js';
import { Pacer } from './pacer.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('Pacer', () => {
  it('lets max calls through per rolling window, then says how long to wait', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 3, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    for (let i = 0; i < 3; i++) {
      await pacer.take();
      c.advance(1_000);
    }
    expect(pacer.waitMs()).toBe(7_000);
    c.advance(7_000);
    expect(pacer.waitMs()).toBe(0);
  });

  it('takes several slots at once only when all fit, else takes none and says when they will', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 4, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    await pacer.take();
    c.advance(1_000);
    await pacer.take();
    expect(pacer.tryTake(3)).toEqual({ waitMs: 9_000 });
    expect(pacer.waitMs()).toBe(0);
    expect(pacer.tryTake(2)).toEqual({ at: c.now() });
    expect(pacer.waitMs()).toBe(9_000);
  });

  it('folds in the remaining budget HubSpot reports (calls made elsewhere count too)', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 100, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const sentAt = await pacer.take();
    c.advance(300);
    // The answer (300 ms later) says the window is full: 99 calls were made elsewhere.
    pacer.observeRemaining(0, sentAt);
    expect(pacer.waitMs()).toBe(10_000 - 300);
    c.advance(9_701);
    expect(pacer.waitMs()).toBe(0);
  });

  it('does not push the window forward when answers arrive after their calls aged out locally', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 2, windowMs: 1_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const first = await pacer.take();
    c.advance(600);
    const second = await pacer.take();
    c.advance(500);
    // The first call has aged out here; the server counted both when the second arrived.
    pacer.observeRemaining(0, second);
    pacer.observeRemaining(1, first);
    expect(pacer.waitMs()).toBe(0);
  });

  it('holds a slot until its answer: a call HubSpot counted late frees its slot late', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 1, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const sentAt = await pacer.take();
    c.advance(400);
    pacer.answered(sentAt, c.now());
    // Counted by the window from when it was taken, the slot would be free in 9,600 ms.
    expect(pacer.waitMs()).toBe(10_000);
    c.advance(10_000);
    expect(pacer.waitMs()).toBe(0);
  });

  // Bench (HubSpot intake, 100 per 10 s): a contacts read and its statuses read share a
  // reservation taken at one time; the first call's slot moved to its answer, so the second's
  // answer (counting both) found one call fewer than it knew and added one made "elsewhere":
  // 28 such calls that were never made in a 22 s run, nearly a third of a window.
  it('counts no call made elsewhere when answers held slots past the time the calls were sent', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 3, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const at = await pacer.takeMany(2);
    pacer.sending();
    c.advance(50);
    pacer.answered(at, c.now());
    // The second call of the reservation: the server counted both.
    const second = pacer.sending();
    c.advance(50);
    pacer.observeRemaining(1, second);
    pacer.answered(at, c.now());
    expect(pacer.waitMs()).toBe(0);
    // The same for two calls taken one by one at the same moment and answered in turn.
    const other = new Pacer({ max: 3, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const first = await other.take();
    const next = await other.take();
    c.advance(40);
    other.answered(first, c.now());
    other.observeRemaining(1, next);
    other.answered(next, c.now());
    expect(other.waitMs()).toBe(0);
    // A call that was made elsewhere still counts.
    other.observeRemaining(0, next);
    expect(other.waitMs()).toBeGreaterThan(0);
  });

  // Review: a reservation's slots were counted as sent when taken, so the first answer took a
  // call made elsewhere for the reservation's second; releasing that unused slot lost it.
  it('counts a call made elsewhere against the calls sent, not the slots reserved and given back', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 4, windowMs: 10_000, now: c.now, policy: 'TEN_SECONDLY_ROLLING' });
    const at = await pacer.takeMany(2);
    const sent = pacer.sending();
    c.advance(50);
    pacer.answered(at, c.now());
    // Our call and one made elsewhere.
    pacer.observeRemaining(2, sent);
    pacer.release(at, 1);
    // Two of the four are used: two more go, the third waits.
    await pacer.take();
    await pacer.take();
    expect(pacer.waitMs()).toBeGreaterThan(0);
  });

  it('parks the caller with a RateLimitedError instead of sleeping past maxWaitMs', async () => {
    const c = clock();
    const pacer = new Pacer({ max: 1, windowMs: 10_000, now: c.now, maxWaitMs: 5_000, policy: 'TEN_SECONDLY_ROLLING' });
    await pacer.take();
    await expect(pacer.take()).rejects.toBeInstanceOf(RateLimitedError);
    pacer.block(20_000);
    c.advance(15_000);
    expect(pacer.waitMs()).toBe(5_000);
  });
});
