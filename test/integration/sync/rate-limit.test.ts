/**
 * Rate limits: the engine keeps within a system's request budget (counted by the system over
 * a rolling window), and a 429 with Retry-After parks the push queue without spending an
 * attempt: no request reaches the system before the wait is over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

function system(hub: Hub, id: string): MemorySystem {
  const s = hub.systems[id];
  if (!s) throw new Error(`no system ${id}`);
  return s;
}

/** Times (ms) of every upsert call a system receives, and whether it was refused. */
function callTimes(s: MemorySystem): { at: number; refused: boolean }[] {
  const times: { at: number; refused: boolean }[] = [];
  const original = s.upsert.bind(s);
  s.upsert = async (inputs) => {
    const entry = { at: Date.now(), refused: false };
    times.push(entry);
    try {
      return await original(inputs);
    } catch (err) {
      entry.refused = true;
      throw err;
    }
  };
  return times;
}

describe.each(TEST_DIALECTS)('rate limits (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('never exceeds N requests per window, counted by the system over any rolling window', async () => {
    const limit = { requests: 3, windowMs: 1_000 };
    hub = await startHub({
      dialect,
      systems: [{ id: 'a' }, { id: 'b', system: { rateLimit: limit }, limits: { requestsPerWindow: 3, windowMs: 1_000, maxBatch: 2 } }],
    });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const times = callTimes(b);
    for (let i = 0; i < 14; i++) a.change({ email: `p${i}@example.com`, first_name: `P${i}` });
    await hub.settle(30_000);

    expect(b.size).toBe(14);
    expect(b.getStats().rateLimited).toBe(0);
    expect(b.getStats().peakRequestsInWindow).toBeLessThanOrEqual(3);
    // The same, from the outside: no four calls within one window.
    const at = times.map((t) => t.at);
    for (let i = 3; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 3] ?? 0)).toBeGreaterThanOrEqual(limit.windowMs);
    expect(at.length).toBeGreaterThanOrEqual(7);
  });

  it('a 429 with Retry-After parks the queue: no request before it elapses, and no attempt is spent', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }], tuning: { pushAttempts: 1 } });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const times = callTimes(b);
    b.failNextCalls('rate_limited'); // 429, Retry-After: 1 (second)
    a.change({ email: 'r1@example.com', first_name: 'One' });
    await hub.settle(20_000);

    expect(b.get({ email: 'r1@example.com' })).toBeDefined();
    expect(times.map((t) => t.refused)).toEqual([true, false]);
    const [refused, next] = times;
    expect((next?.at ?? 0) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    // With a single attempt allowed, a spent attempt would have failed the job for good.
    const status = await hub.engine.status();
    expect(status.queues.find((q) => q.queue === 'push.b')?.failed).toBe(0);
    expect(await hub.engine.deadLetters.list()).toEqual([]);
  });
});
