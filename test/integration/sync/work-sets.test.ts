/**
 * Taking a push batch from the dirty set (real Redis): profiles in flight are passed over, the
 * batch is filled from the ones behind them, and a batch that cannot be filled waits for its
 * oldest profile's flush delay; held profiles (creates waiting for a first pull) are out of
 * every take until released.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { engineKeys } from '../../../src/queue/keys.js';
import { WorkSets } from '../../../src/queue/work-sets.js';
import { deletePrefix, REDIS_URL } from '../../../harness/sync-hub.js';

const redis = new Redis(REDIS_URL);
let prefix = '';
let keys: ReturnType<typeof engineKeys>;
let work: WorkSets;

beforeEach(async () => {
  prefix = `{ws-${randomBytes(5).toString('hex')}}`;
  keys = engineKeys(prefix);
  work = new WorkSets(redis, keys);
  return () => deletePrefix(prefix);
});

afterAll(async () => {
  await redis.quit();
});

/** Dirty profiles, oldest first, `ageMs` old. */
async function dirty(ids: string[], ageMs: number): Promise<void> {
  const at = Date.now() - ageMs;
  await redis.zadd(keys.dirty('t'), ...ids.flatMap((id, i) => [at + i, id]));
}

describe('WorkSets.take', () => {
  it('passes over profiles in flight and fills the batch from those behind them', async () => {
    await dirty(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'], 5_000);
    // p2 is being pushed, p3 is held by ingest: both are in flight.
    await work.lockForIngest(
      [
        { connector: 't', profileId: 'p2' },
        { connector: 't', profileId: 'p3' },
      ],
      60_000,
    );
    const taken = await work.take('t', 3, 60_000, 1_000);
    expect(taken.profileIds).toEqual(['p1', 'p4', 'p5']);
    // The passed-over ones stay dirty, at their place, for a later take.
    expect(await redis.zrange(keys.dirty('t'), 0, -1)).toEqual(['p2', 'p3', 'p6']);
    expect(taken.dirtyLeft).toBe(3);
  });

  it('waits when what can be taken is a partial batch whose oldest is fresh, even if in-flight ones fill the set', async () => {
    await dirty(['p1', 'p2'], 5_000);
    await dirty(['p3'], 0);
    await work.lockForIngest(
      [
        { connector: 't', profileId: 'p1' },
        { connector: 't', profileId: 'p2' },
      ],
      60_000,
    );
    const taken = await work.take('t', 2, 60_000, 1_000);
    expect(taken.profileIds).toEqual([]);
    expect(taken.waitUntil).not.toBeNull();
    expect(taken.waitUntil ?? 0).toBeGreaterThan(Date.now() + 500);
    expect(await redis.zrange(keys.dirty('t'), 0, -1)).toEqual(['p1', 'p2', 'p3']);
    // Once the in-flight ones are released, the batch is full and goes at once.
    await work.unlockForIngest([
      { connector: 't', profileId: 'p1' },
      { connector: 't', profileId: 'p2' },
    ]);
    expect((await work.take('t', 2, 60_000, 1_000)).profileIds).toEqual(['p1', 'p2']);
  });

  it('takes a partial batch once its oldest has waited the flush delay', async () => {
    await dirty(['p1', 'p2'], 2_000);
    const taken = await work.take('t', 100, 60_000, 1_000);
    expect(taken.profileIds).toEqual(['p1', 'p2']);
    expect(await redis.zcard(keys.dirty('t'))).toBe(0);
    expect(await redis.zrange(keys.inflight('t'), 0, -1)).toEqual(['p1', 'p2']);
  });

  it('sets aside more in-flight profiles than one Lua unpack can return', async () => {
    const ids = Array.from({ length: 6_000 }, (_, i) => `p${String(i).padStart(5, '0')}`);
    await dirty(ids, 5_000);
    const held = ids.slice(0, 5_000).map((profileId) => ({ connector: 't', profileId }));
    for (let i = 0; i < held.length; i += 1_000) await work.lockForIngest(held.slice(i, i + 1_000), 60_000);
    const taken = await work.take('t', 100, 60_000, 1_000);
    expect(taken.profileIds).toEqual(ids.slice(5_000, 5_100));
    expect(await redis.zcard(keys.dirty('t'))).toBe(5_900);
  });
});

describe('WorkSets.markDirty', () => {
  it('tells whether the mark found the push stage idle: the first mark does, marks within idleAfterMs of the last one do not', async () => {
    const first = await work.markDirty(new Map([['t', ['p1']]]), 60_000);
    expect(first.get('t')).toEqual({ dirty: 1, idle: true });
    const second = await work.markDirty(new Map([['t', ['p2', 'p3']]]), 60_000);
    expect(second.get('t')).toEqual({ dirty: 3, idle: false });
    // The window runs from the last mark; once it is gone (expired) the stage is idle again, if
    // nothing waits in the dirty set (a partial batch waiting to fill keeps it busy).
    expect(await redis.pttl(keys.lastDirty('t'))).toBeGreaterThan(0);
    await redis.del(keys.lastDirty('t'));
    expect((await work.markDirty(new Map([['t', ['p4']]]), 60_000)).get('t')).toEqual({ dirty: 4, idle: false });
    await redis.del(keys.lastDirty('t'), keys.dirty('t'));
    expect((await work.markDirty(new Map([['t', ['p5']]]), 60_000)).get('t')).toEqual({ dirty: 1, idle: true });
  });

  it('without idleAfterMs (the erase work sets) it counts only and leaves the idle window alone', async () => {
    expect((await work.markDirty(new Map([['t', ['p1']]]))).get('t')).toEqual({ dirty: 1, idle: false });
    expect(await redis.exists(keys.lastDirty('t'))).toBe(0);
  });
});

describe('WorkSets.hold', () => {
  it('keeps held profiles out of every take until released; release makes them dirty again, a dirty one keeping its earlier time', async () => {
    await dirty(['p1', 'p2', 'p3'], 5_000);
    const taken = await work.take('t', 3, 60_000);
    expect(taken.profileIds).toEqual(['p1', 'p2', 'p3']);
    await work.hold('t', ['p1', 'p2']);
    expect(await redis.zrange(keys.inflight('t'), 0, -1)).toEqual(['p3']);
    await work.done('t', ['p3']);
    // Held: nothing to take, nothing dirty (a flush finding only held profiles schedules nothing).
    const again = await work.take('t', 3, 60_000);
    expect(again).toMatchObject({ profileIds: [], dirtyLeft: 0 });
    expect(await work.heldCount('t')).toBe(2);
    expect((await work.depths('t')).held).toBe(2);

    // p2 changes meanwhile (dirty again, older than the release).
    const changedAt = Date.now() - 1_000;
    await redis.zadd(keys.dirty('t'), changedAt, 'p2');
    expect(await work.releaseHeld('t')).toBe(2);
    expect(await work.heldCount('t')).toBe(0);
    expect(await redis.zrange(keys.dirty('t'), 0, -1)).toEqual(['p2', 'p1']);
    expect(Number(await redis.zscore(keys.dirty('t'), 'p2'))).toBe(changedAt);
    expect(await work.releaseHeld('t')).toBe(0);
  });
});

describe('WorkSets.lockForIngest', () => {
  /** Refs from `connector:profile` pairs. */
  const refs = (...pairs: string[]) =>
    pairs.map((pair) => {
      const [connector = '', profileId = ''] = pair.split(':');
      return { connector, profileId };
    });

  it("takes each connector's profiles on its own tag; one connector refused lets go of what the others took and throws", async () => {
    expect(await work.lockForIngest(refs('t:p1', 'u:p1'), 60_000)).toEqual([true, true]);
    expect(await work.lockForIngest(refs('t:p1', 'u:p2'), 60_000)).toEqual([false, true]);
    await work.unlockForIngest(refs('t:p1', 'u:p1', 'u:p2'));
    // A key of the wrong type stands in for a slot that refuses (a Cluster node mid-move).
    await redis.set(keys.inflight('bad'), 'x');
    await expect(work.lockForIngest(refs('t:p3', 'bad:p4', 'u:p5'), 60_000)).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.zcard(keys.inflight('t'))).toBe(0);
    expect(await redis.zcard(keys.inflight('u'))).toBe(0);
  });
});
