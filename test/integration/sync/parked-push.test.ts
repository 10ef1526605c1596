/**
 * A push the connector parks before its first call (its own pacer had no room) wrote nothing.
 * Its write-log entries must say so: an entry left "may have landed" made a value the system
 * reported meanwhile look like a snapshot our write overwrote, so the shadow never learnt it
 * and the hub later wrote that same value again (chaos (e): echo writes of HubSpot names).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../../src/connector/errors.js';
import type { WriteEntry } from '../../../src/sync/inbound/write-log.js';
import type { UpsertInput } from '../../../connectors/memory/index.js';
import { REDIS_URL, startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';
import { engineKeys } from '../../../src/queue/keys.js';

describe('a push parked before its first call', () => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('leaves write-log entries of refused writes, never of writes that may have landed', async () => {
    hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'a' }, { id: 'b' }] });
    const a = hub.systems['a'];
    const b = hub.systems['b'];
    if (!a || !b) throw new Error('no systems');
    const created = a.change({ email: 'parked@example.com', first_name: 'Ada' });
    await hub.settle();

    const upsert = b.upsert.bind(b);
    let parks = 0;
    b.upsert = async (inputs: UpsertInput[]) => {
      if (parks++ === 0) throw new RateLimitedError('pacing: no room', { retryAfterMs: 50, nothingWritten: true });
      return upsert(inputs);
    };
    a.change({ first_name: 'Grace' }, { id: created.id });
    await hub.settle();
    expect(parks).toBe(2);
    expect(b.get({ email: 'parked@example.com' })?.fields['first_name']).toBe('Grace');

    const profile = await hub.store.findProfile({ kind: 'email', value: 'parked@example.com' });
    const redis = new Redis(REDIS_URL);
    try {
      const raw = await redis.get(engineKeys(hub.prefix).writes('b', profile?.id ?? ''));
      const entries = JSON.parse(raw ?? '[]') as WriteEntry[];
      const grace = entries.filter((e) => e.fields['first_name'] === 'Grace').map((e) => e.ok);
      expect(grace).toEqual([false, true]);
    } finally {
      redis.disconnect();
    }
  });
});
