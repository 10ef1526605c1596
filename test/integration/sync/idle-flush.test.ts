/**
 * "Flush immediately when idle, batch when busy" (`EngineTuning.idleAfterMs`): the first change
 * that finds a connector's push stage idle is scheduled at once, without the flush delay; the
 * changes that follow it while the stage is busy still gather into full batches.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { engineKeys, queueNames, queuePrefix } from '../../../src/queue/keys.js';
import type { UpsertInput } from '../../../connectors/memory/index.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { REDIS_URL, startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';
import type { FlushJobData } from '../../../src/sync/outbound/push.js';

/** Polls until `check` holds (the engine works in the background); fails after 15 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function system(hub: Hub, id: string): MemorySystem {
  const found = hub.systems[id];
  if (!found) throw new Error(`no system ${id}`);
  return found;
}

describe('push scheduling when idle and when busy', () => {
  let hub: Hub | undefined;
  let queue: Queue | undefined;
  let redis: Redis | undefined;
  afterEach(async () => {
    await queue?.close();
    await redis?.quit();
    await hub?.close();
    hub = undefined;
    queue = undefined;
    redis = undefined;
  });

  it('the flush job of a change that finds the stage idle runs at once and takes a partial batch; the next change within idleAfterMs waits the flush delay', async () => {
    // No push worker: the flush jobs stay in the queue to be looked at. The flush delay is a
    // minute, so a job without it stands out.
    hub = await startHub({
      dialect: 'sqlite',
      systems: [{ id: 'a' }, { id: 'b' }],
      roles: { push: false },
      // No safety-net sweep in the test's life: it schedules a flush at once for what is dirty (b's, here).
      tuning: { flushDelayMs: 60_000, idleAfterMs: 60_000, sweepEveryMs: 600_000 },
    });
    const b = new Queue(queueNames.push('b'), {
      connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }),
      prefix: queuePrefix(hub.prefix, queueNames.push('b')),
    });
    queue = b;
    const flushJobs = async (): Promise<Job<FlushJobData>[]> => b.getJobs(['delayed', 'waiting', 'prioritized']);

    system(hub, 'a').change({ email: 'ada@example.com', first_name: 'Ada' });
    await until(async () => (await flushJobs()).length > 0, 'the first flush job');
    const [first, ...others] = await flushJobs();
    expect(others).toEqual([]);
    expect(first?.data).toEqual({ connector: 'b', eager: true });
    expect(first?.opts.delay ?? Number.NaN).toBeLessThanOrEqual(10);

    system(hub, 'a').change({ email: 'bob@example.com', first_name: 'Bob' });
    await until(async () => (await flushJobs()).length > 1, 'the second flush job');
    const second = (await flushJobs()).find((job) => job.id !== first?.id);
    expect(second?.data).toEqual({ connector: 'b' });
    expect(second?.opts.delay ?? 0).toBeGreaterThan(59_000);
    // Both wait in b's dirty set; only the eager job takes them before the minute is over.
    redis = new Redis(REDIS_URL);
    expect(await redis.zcard(engineKeys(hub.prefix).dirty('b'))).toBe(2);
  });

  it('under a backlog batches still fill: after the first change of an idle stage, changes arriving one by one go in full batches', async () => {
    // A flush delay of a minute: only full batches (and the first, eager one) can go in this test.
    hub = await startHub({
      dialect: 'sqlite',
      systems: [{ id: 'a' }, { id: 'b', limits: { maxBatch: 10 } }],
      // Nor here: a sweep would push a partial batch of what is dirty at once.
      tuning: { flushDelayMs: 60_000, idleAfterMs: 60_000, sweepEveryMs: 600_000 },
    });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const calls: UpsertInput[][] = [];
    const upsert = b.upsert.bind(b);
    b.upsert = async (inputs) => {
      calls.push(inputs);
      return upsert(inputs);
    };
    redis = new Redis(REDIS_URL);
    const dirty = engineKeys(hub.prefix).dirty('b');
    const r = redis;
    const sent = (): number => calls.reduce((sum, call) => sum + call.length, 0);
    // One person at a time, each relayed (dirty for b, or pushed) before the next: a trickle, not one burst.
    for (let i = 0; i < 41; i++) {
      a.change({ email: `p${i}@example.com`, first_name: `P${i}` });
      await a.flushWebhooks();
      // The first finds the stage idle and is pushed alone.
      const relayed = i === 0 ? async () => sent() >= 1 : async () => sent() + (await r.zcard(dirty)) >= i + 1;
      await until(relayed, `person ${i} relayed`);
    }
    await until(async () => sent() >= 41, 'every person pushed');
    expect(calls.map((call) => call.length)).toEqual([1, 10, 10, 10, 10]);
  });
});
