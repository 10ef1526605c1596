/**
 * Closing while Redis is away. ioredis never ends a connection that is disconnected while it waits
 * to reconnect (the timer is cleared, no socket is left to close, no `end` is emitted:
 * https://github.com/redis/ioredis/issues/1247), and BullMQ's `Worker.close()` waits for that
 * `end` on its blocking connection, so a hub told to stop during a Redis outage, or in the first
 * moments after Redis came back, never finished stopping. The hub's clients end at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { queuePrefix } from '../../../src/queue/keys.js';
import { createRedisClient, duplicateRedisClient, isClusterClient } from '../../../src/queue/redis-client.js';
import type { RedisClient, RedisTarget } from '../../../src/queue/redis-client.js';
import { killableRedis } from '../../helpers/private-redis.js';
import { settlesWithin } from '../../helpers/settles-within.js';
import { clusterToolsInstalled, startLocalCluster } from '../../helpers/redis-cluster.js';
import type { KillableRedis } from '../../helpers/private-redis.js';

/** Resolves once `client` reports it lost Redis and waits to reconnect. */
async function waitingToReconnect(client: RedisClient): Promise<void> {
  for (let i = 0; i < 200 && client.status !== 'reconnecting'; i++) await sleep(25);
  expect(client.status).toBe('reconnecting');
}

describe('closing while Redis is away', () => {
  let redis: KillableRedis | undefined;
  const clients: RedisClient[] = [];
  /** A hub client of `server` that was connected, then lost it and waits to reconnect. */
  async function lostClient(server: KillableRedis, retryEveryMs?: number): Promise<RedisClient> {
    const client = createRedisClient(server.url, {
      maxRetriesPerRequest: null,
      ...(retryEveryMs === undefined ? {} : { retryStrategy: () => retryEveryMs }),
    });
    client.on('error', () => undefined);
    clients.push(client);
    await client.ping();
    await server.kill();
    await waitingToReconnect(client);
    return client;
  }

  /** A BullMQ worker on a hub client of `target`, past its first fetch of jobs. */
  async function runningWorker(target: RedisTarget, retryEveryMs?: number): Promise<{ worker: Worker; connection: RedisClient }> {
    const connection = createRedisClient(target, {
      maxRetriesPerRequest: null,
      ...(retryEveryMs === undefined ? {} : { retryStrategy: () => retryEveryMs }),
    });
    connection.on('error', () => undefined);
    clients.push(connection);
    const worker = new Worker('close-test', async () => undefined, { connection, prefix: queuePrefix('{close-test}', 'q') });
    worker.on('error', () => undefined);
    await worker.waitUntilReady();
    await sleep(200);
    return { worker, connection };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await redis?.kill();
    redis = undefined;
  });

  it('a client waiting to reconnect ends when disconnected: status end, the end event, queued commands rejected', async () => {
    redis = await killableRedis();
    const client = await lostClient(redis);
    const queued = client.get('k').then(
      () => 'answered',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    const ended = new Promise<string>((resolve) => client.once('end', () => resolve('end')));
    client.disconnect();
    expect(await settlesWithin(5_000, () => ended)).toBe('closed');
    expect(client.status).toBe('end');
    expect(await queued).toBe('Connection is closed.');
  });

  it('its duplicates do too (BullMQ duplicates the connection for a worker)', async () => {
    redis = await killableRedis();
    const original = createRedisClient(redis.url);
    const client = duplicateRedisClient(original, { maxRetriesPerRequest: null });
    for (const c of [original, client]) {
      c.on('error', () => undefined);
      clients.push(c);
    }
    await client.ping();
    await redis.kill();
    await waitingToReconnect(client);
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    client.disconnect();
    expect(await settlesWithin(5_000, () => ended)).toBe('closed');
  });

  it.skipIf(!clusterToolsInstalled())(
    'a Cluster client waiting to reconnect ends when disconnected, and so do its duplicates',
    async () => {
      const cluster = await startLocalCluster(3);
      try {
        const client = createRedisClient({ cluster: { nodes: cluster.nodes.map((n) => n.url) } }, { maxRetriesPerRequest: null });
        const copy = duplicateRedisClient(client, { maxRetriesPerRequest: null });
        for (const c of [client, copy]) {
          c.on('error', () => undefined);
          clients.push(c);
          await c.ping();
          // Every node connected: the Cluster client waits to reconnect once all of them are lost.
          if (isClusterClient(c)) await Promise.all(c.nodes('all').map((n) => n.ping()));
        }
        await cluster.stop();
        for (const c of [client, copy]) {
          await waitingToReconnect(c);
          const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
          c.disconnect();
          expect(await settlesWithin(5_000, () => ended)).toBe('closed');
          expect(c.status).toBe('end');
        }
      } finally {
        await cluster.stop();
      }
    },
  );

  it.skipIf(!clusterToolsInstalled())('a BullMQ worker on a Cluster client closes while every node is down', async () => {
    const cluster = await startLocalCluster(3);
    try {
      const { worker } = await runningWorker({ cluster: { nodes: cluster.nodes.map((n) => n.url) } });
      await cluster.stop();
      await sleep(1_500);
      expect(await settlesWithin(10_000, () => worker.close())).toBe('closed');
    } finally {
      await cluster.stop();
    }
  });

  it('a client disconnected to reconnect (disconnect(true)) still reconnects', async () => {
    redis = await killableRedis();
    const client = await lostClient(redis);
    client.disconnect(true);
    await redis.start();
    expect(await client.ping()).toBe('PONG');
  });

  for (const moment of ['while Redis is down', 'just after Redis came back'] as const) {
    it(`a BullMQ worker on the hub's client closes ${moment}`, async () => {
      const r = (redis = await killableRedis());
      // Its connections (the worker's blocking one, a duplicate, too) wait 2 s between attempts,
      // so the close below falls inside a wait whether or not Redis is back by then.
      const { worker, connection } = await runningWorker(r.url, 2_000);
      await r.kill();
      await waitingToReconnect(connection);
      await sleep(500);
      if (moment === 'just after Redis came back') await r.start();
      expect(await settlesWithin(10_000, () => worker.close())).toBe('closed');
    });
  }
});
