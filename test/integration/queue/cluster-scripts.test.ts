/**
 * A Redis Cluster slot migration seen by BullMQ's pipelined scripts: while the slot moves, a job
 * add is answered TRYAGAIN; the first add after the move is answered NOSCRIPT (ioredis took the
 * new owner's connection to know the script since its EVAL, which the migration refused); the next one
 * goes through. Both are "not now" answers: the hub answers them 503, never as a failure.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { queuePrefix } from '../../../src/queue/keys.js';
import { createRedisClient } from '../../../src/queue/redis-client.js';
import type { RedisClient } from '../../../src/queue/redis-client.js';
import { RedisUnavailableError, withRedisDeadline } from '../../../src/queue/redis-health.js';
import { clusterToolsInstalled, startLocalCluster } from '../../helpers/redis-cluster.js';
import type { LocalCluster } from '../../helpers/redis-cluster.js';

async function outcome(work: () => Promise<unknown>): Promise<string> {
  try {
    await withRedisDeadline(10_000, work);
    return 'taken';
  } catch (err) {
    return err instanceof RedisUnavailableError ? 'unavailable' : `failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

describe.skipIf(!clusterToolsInstalled())('BullMQ on a Redis Cluster while a slot migrates', () => {
  let cluster: LocalCluster | undefined;
  let client: RedisClient | undefined;
  afterEach(async () => {
    client?.disconnect();
    await cluster?.stop();
    cluster = client = undefined;
  });

  it('a job add is refused as unavailable while the slot moves and just after, then taken', async () => {
    const c = (cluster = await startLocalCluster(3));
    const redis = (client = createRedisClient({ cluster: { nodes: c.nodes.map((n) => n.url) } }, { maxRetriesPerRequest: null }));
    // The queue's own hash tag, as the hub opens its queues.
    const prefix = queuePrefix('{noscript-test}', 'ingest');
    const queue = new Queue('ingest', { connection: redis, prefix });
    const add = (): Promise<unknown> => queue.addBulk([{ name: 'records', data: { n: 1 } }]);
    expect(await outcome(add)).toBe('taken');

    const slot = await c.slotOf(prefix);
    const from = await c.ownerOf(slot);
    const to = c.nodes.find((n) => n.id !== from.id);
    if (!to) throw new Error('no other master');
    const source = new Redis(from.url);
    const target = new Redis(to.url);
    try {
      await target.cluster('SETSLOT', slot, 'IMPORTING', from.id);
      await source.cluster('SETSLOT', slot, 'MIGRATING', to.id);
      const keys = await source.cluster('GETKEYSINSLOT', slot, 100);
      await source.migrate('127.0.0.1', to.port, '', 0, 5_000, 'KEYS', ...keys);
      // Every key is on the target now, some of the script's keys exist nowhere: TRYAGAIN.
      const during = await outcome(add);
      for (const node of [target, source]) await node.cluster('SETSLOT', slot, 'NODE', to.id);
      for (const other of c.nodes.filter((n) => n.id !== from.id && n.id !== to.id)) {
        const r = new Redis(other.url);
        await r.cluster('SETSLOT', slot, 'NODE', to.id);
        r.disconnect();
      }
      const after = [await outcome(add), await outcome(add), await outcome(add)];
      console.info(`bullmq on a migrating slot: during the move ${during}; after it ${after.join(', ')}`);
      expect(during).toBe('unavailable');
      expect(after.filter((o) => o !== 'unavailable' && o !== 'taken')).toEqual([]);
      expect(after.at(-1)).toBe('taken');
    } finally {
      source.disconnect();
      target.disconnect();
      await queue.close();
    }
  }, 60_000);
});
