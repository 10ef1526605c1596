/**
 * The Segment emulator driven by Segment's official Node client, `@segment/analytics-node`: an
 * identify lands in the profile; a 503 is retried and delivered once (a retry after a lost answer
 * is deduplicated on messageId); a 429 with Retry-After is waited out without using up retries.
 */
import { Analytics } from '@segment/analytics-node';
import { describe, expect, it } from 'vitest';
import type { RunningSegmentEmulator } from '../../../connectors/segment/emulator/index.js';
import { closeAfterTest, emulator, profiles, WRITE_KEY } from './emulator-helpers.js';

function client(e: RunningSegmentEmulator): Analytics {
  const analytics = new Analytics({ writeKey: WRITE_KEY, host: e.url, path: '/v1/batch', flushAt: 1, flushInterval: 50, maxRetries: 3 });
  closeAfterTest({ close: () => analytics.closeAndFlush({ timeout: 5000 }) });
  return analytics;
}

/** An identify through the client, resolved with the delivery outcome of its per-call callback. */
function identify(analytics: Analytics, userId: string, traits: Record<string, unknown>, messageId?: string): Promise<unknown> {
  return new Promise((resolve) => analytics.identify({ userId, traits, ...(messageId ? { messageId } : {}) }, (err) => resolve(err)));
}

describe('the official client against the emulator', () => {
  it('delivers an identify that lands in the profile, readable through the Profile API', async () => {
    const e = await emulator({ writeKey: WRITE_KEY });
    const analytics = client(e);
    expect(await identify(analytics, 'u1', { email: 'ada@example.com', plan: 'pro' }, 'client-m1')).toBeUndefined();
    const [event] = e.sideDoor.events();
    expect(event?.writeKey).toBe(WRITE_KEY);
    expect(event?.message).toMatchObject({
      type: 'identify',
      userId: 'u1',
      messageId: 'client-m1',
      receivedAt: expect.any(String),
      sentAt: expect.any(String),
    });
    expect(e.sideDoor.profile('u1')?.traits['plan']?.value).toBe('pro');
    const traits = await profiles<{ traits: Record<string, unknown> }>(e, 'email:ada@example.com/traits');
    expect(traits.body.traits).toEqual({ email: 'ada@example.com', plan: 'pro' });
  });

  it.each([
    { afterAccepting: false, duplicates: 0, what: 'a 503 before the events were taken' },
    { afterAccepting: true, duplicates: 1, what: 'a 503 after they were taken (a lost answer: the retry is deduplicated)' },
  ])('retries $what and delivers once', async ({ afterAccepting, duplicates }) => {
    const e = await emulator();
    const analytics = client(e);
    e.sideDoor.failNextTrackingCalls(1, 503, { afterAccepting });
    expect(await identify(analytics, 'u1', { plan: 'pro' })).toBeUndefined();
    expect(e.sideDoor.calls().byEndpoint['POST /v1/batch']).toBe(2);
    expect(e.sideDoor.events()).toHaveLength(1);
    expect(e.sideDoor.duplicates()).toBe(duplicates);
  });

  it('waits out a 429 with Retry-After and then delivers', async () => {
    const e = await emulator();
    const analytics = client(e);
    e.sideDoor.rateLimitNextCall(1);
    expect(await identify(analytics, 'u1', { plan: 'pro' })).toBeUndefined();
    expect(e.sideDoor.calls()).toMatchObject({ total: 2, rateLimited: 1 });
    expect(e.sideDoor.events()).toHaveLength(1);
  });

  it('refuses an event over 32 KB itself: it never reaches the emulator', async () => {
    const e = await emulator();
    const analytics = client(e);
    expect(await identify(analytics, 'u1', { bio: 'x'.repeat(33 * 1024) })).toBeDefined();
    expect([e.sideDoor.events(), e.sideDoor.dropped()]).toEqual([[], []]);
  });

  it('gives up on a 400 without retrying', async () => {
    const e = await emulator();
    const analytics = client(e);
    e.sideDoor.failNextTrackingCalls(1, 400);
    expect(await identify(analytics, 'u2', { plan: 'pro' })).toBeDefined();
    expect(e.sideDoor.calls().total).toBe(1);
    expect(e.sideDoor.events()).toHaveLength(0);
  });
});
