/**
 * Redis holds work, never truth: Redis (no persistence) is killed while pushes are pending and
 * comes back empty. Every change the hub had acknowledged still reaches every system, the job
 * schedulers come back by themselves, and webhooks are refused at once while Redis is away.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startHubProcess } from '../../../src/app/hub.js';
import { parseConfig } from '../../../src/config/load.js';
import { privacyQueues } from '../../../src/privacy/keys.js';
import { queueNames, queuePrefix } from '../../../src/queue/keys.js';
import { RedisWatch } from '../../../src/queue/redis-health.js';
import type { RedisResetEvent } from '../../../src/queue/redis-health.js';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import { signMemoryWebhook } from '../../../connectors/memory/signature.js';
import { killableRedis } from '../../helpers/private-redis.js';
import { settlesWithin } from '../../helpers/settles-within.js';
import type { KillableRedis } from '../../helpers/private-redis.js';
import { REDIS_URL, startHub, waitFor, WEBHOOK_SECRET } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';
import { silentLogger } from '../../../src/log/logger.js';
import { builtinConnectors } from '../../../connectors/index.js';

const PEOPLE = Array.from({ length: 13 }, (_, i) => `person${i}@example.com`);
const TARGETS = ['b', 'c'] as const;

/** The job schedulers the engine keeps: the relay's sweep and one pull per connector. */
async function schedulers(redisUrl: string, prefix: string): Promise<string[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const queues = [queueNames.relay, ...['a', 'b', 'c'].map((id) => queueNames.pull(id))].map(
    (name) => new Queue(name, { connection, prefix: queuePrefix(prefix, name) }),
  );
  try {
    const lists = await Promise.all(queues.map((q) => q.getJobSchedulers()));
    return lists
      .flat()
      .map((s) => s.key)
      .sort();
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  }
}

describe.each(TEST_DIALECTS)('Redis loss (%s)', (dialect) => {
  let hub: Hub | undefined;
  let redis: KillableRedis | undefined;
  afterEach(async () => {
    await redis?.start().catch(() => undefined);
    await hub?.close();
    await redis?.kill();
    hub = undefined;
    redis = undefined;
  });

  it('loses no acknowledged change, refuses webhooks at once while down, and re-creates its schedulers', async () => {
    redis = await killableRedis();
    // Slow targets that take one record per call: a burst waits in the dirty sets for seconds.
    const slow = { system: { latencyMs: 250 }, limits: { maxBatch: 1, concurrency: 1 }, schedule: { every: 1_000 } };
    hub = await startHub({
      dialect,
      redisUrl: redis.url,
      systems: [
        { id: 'a', ...slow },
        { id: 'b', ...slow },
        { id: 'c', ...slow },
      ],
    });
    const { a } = hub.systems;
    if (!a) throw new Error('no system a');
    const valueIn = (id: string, email: string) => hub?.systems[id]?.get({ email })?.fields['first_name'];
    const missing = (value: string) =>
      PEOPLE.flatMap((email) => TARGETS.filter((id) => valueIn(id, email) !== value).map((id) => `${id}:${email}`));

    for (const email of PEOPLE) a.change({ email, first_name: 'Before' });
    await waitFor(() => missing('Before').length === 0, 30_000, 'the people in every system');
    expect((await schedulers(redis.url, hub.prefix)).length).toBe(4);

    for (const email of PEOPLE) a.change({ email, first_name: 'After' });
    await sleep(2_000);
    const pendingAtKill = missing('After').length;
    await redis.kill();

    // While Redis is away a webhook is refused at once (the sender retries later), never held.
    await sleep(100);
    const body = JSON.stringify({ eventId: randomUUID(), occurredAt: new Date().toISOString(), kind: 'changed', records: [] });
    const started = Date.now();
    const received = hub.engine
      .receiveWebhook('a', {
        method: 'POST',
        url: 'http://127.0.0.1/webhooks/a',
        headers: { 'content-type': 'application/json', 'x-memory-signature': signMemoryWebhook(WEBHOOK_SECRET, body, Date.now()) },
        body: Buffer.from(body),
        receivedAt: new Date().toISOString(),
      })
      .then(
        () => 'accepted',
        (err: unknown) => (err as { code?: string }).code ?? String(err),
      );
    const outcome = await Promise.race([received, sleep(5_000).then(() => 'no answer within 5 s')]);
    const answeredMs = Date.now() - started;

    await sleep(900);
    await redis.start();
    const restartedAt = Date.now();
    let schedulersBackMs: number | null = null;
    try {
      await waitFor(async () => (await schedulers(redis?.url ?? '', hub?.prefix ?? '')).length === 4, 60_000, 'the job schedulers');
      schedulersBackMs = Date.now() - restartedAt;
    } catch {
      // Reported below.
    }
    await waitFor(() => missing('After').length === 0, 30_000, 'every edit in every system').catch(() => undefined);
    const lost = missing('After');
    console.info(
      `[redis-loss ${dialect}] pending at kill ${pendingAtKill}/${PEOPLE.length * TARGETS.length}, lost ${lost.length}, ` +
        `webhook answered ${outcome} in ${answeredMs} ms, schedulers back ${schedulersBackMs ?? 'never'} ms after the restart`,
    );
    expect(pendingAtKill).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(outcome).toBe('sync.redis_unavailable');
    expect(answeredMs).toBeLessThan(1_000);
    expect(schedulersBackMs).not.toBeNull();
    expect(schedulersBackMs ?? Infinity).toBeLessThan(60_000);
  }, 150_000);
});

describe('engine: Redis loss per hash tag', () => {
  it("rebuilds when only a queue's hash tag lost its data (a Cluster node serving it restarted empty)", async () => {
    const hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'crm' }], tuning: { redisCheckEveryMs: 100 } });
    const redis = new Redis(REDIS_URL);
    let rebuilds = 0;
    hub.engine.onRedisReset(async () => void rebuilds++);
    try {
      const relayEpoch = `${queuePrefix(hub.prefix, queueNames.relay)}:sync:epoch`;
      await waitFor(async () => (await redis.exists(relayEpoch)) === 1, 2_000, "the relay queue's epoch");
      await sleep(300);
      expect(rebuilds).toBe(0);
      // The engine's own epoch stays: only the relay queue's tag is gone.
      await redis.del(relayEpoch);
      await waitFor(() => rebuilds === 1, 2_000, 'the rebuild');
      expect(await redis.exists(`${hub.prefix}:sync:epoch`)).toBe(1);
    } finally {
      redis.disconnect();
      await hub.close();
    }
  });
});

describe('RedisWatch', () => {
  it('rebuilds once per lost epoch: not for a Redis that kept its data, at once when a connection is ready again', async () => {
    const redis = new Redis(REDIS_URL);
    const key = `{rw-${randomUUID()}}:sync:epoch`;
    const events: RedisResetEvent[] = [];
    const logger = silentLogger();
    const first = new RedisWatch(redis, key, 60_000, async (e) => void events.push(e), logger);
    const second = new RedisWatch(redis, key, 60_000, async (e) => void events.push(e), logger);
    try {
      await redis.ping();
      // The first process to see this Redis writes the epoch (a fresh Redis: the outbox is re-driven).
      await first.start();
      expect(events).toEqual([{ created: true, initial: true }]);
      // A second process finds the epoch: nothing to rebuild.
      await second.start();
      expect(events).toHaveLength(1);
      // The data is lost and the connection comes back: each process rebuilds once, at once.
      await redis.del(key);
      redis.disconnect(true);
      await waitFor(() => events.length === 3, 2_000, 'both rebuilds');
      expect(events.slice(1).map((e) => e.initial)).toEqual([false, false]);
      expect(events.slice(1).filter((e) => e.created)).toHaveLength(1);
      await Promise.all([first.check(), second.check()]);
      expect(events).toHaveLength(3);
    } finally {
      first.stop();
      second.stop();
      await redis.del(key);
      redis.disconnect();
    }
  });
  it("rebuilds when only one hash tag's data is lost (a Cluster node restarted empty), once for all the tags", async () => {
    const redis = new Redis(REDIS_URL);
    const tag = `rw-${randomUUID()}`;
    const keys = [`{${tag}}:sync:epoch`, `{${tag}.ingest}:sync:epoch`, `{${tag}.relay}:sync:epoch`];
    const events: RedisResetEvent[] = [];
    const watch = new RedisWatch(redis, keys, 60_000, async (e) => void events.push(e), silentLogger());
    try {
      // An engine key's epoch from before the queues had tags of their own: the queues' are new, nothing was lost.
      await redis.set(keys[0] ?? '', 'kept');
      await watch.start();
      expect(events).toEqual([{ created: true, initial: true }]);
      await watch.check();
      expect(events).toHaveLength(1);
      // The node serving the relay queue's tag comes back empty; the engine's epoch is still there.
      await redis.del(keys[2] ?? '');
      await watch.check();
      expect(events).toEqual([
        { created: true, initial: true },
        { created: true, initial: false },
      ]);
      // Two tags lost at once: one rebuild.
      await redis.del(keys[1] ?? '', keys[2] ?? '');
      await watch.check();
      expect(events).toHaveLength(3);
      await watch.check();
      expect(events).toHaveLength(3);
    } finally {
      watch.stop();
      await redis.del(...keys);
      redis.disconnect();
    }
  });
  it('does not let a rebuild that never settles hold the checks after the connection comes back', async () => {
    const redis = new Redis(REDIS_URL);
    const key = `{rw-${randomUUID()}}:sync:epoch`;
    const events: RedisResetEvent[] = [];
    // The first rebuild after a loss hangs, as one whose Redis command was lost with its connection.
    const watch = new RedisWatch(
      redis,
      key,
      60_000,
      (e) => {
        events.push(e);
        return events.length === 2 ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      silentLogger(),
    );
    try {
      await redis.ping();
      await watch.start();
      await redis.del(key);
      redis.disconnect(true);
      await waitFor(() => events.length === 2, 2_000, 'the rebuild that hangs');
      // Redis is lost again while that rebuild hangs: the new epoch is handled at once all the same.
      await redis.del(key);
      redis.disconnect(true);
      await waitFor(() => events.length === 3, 2_000, 'the rebuild of the next epoch');
      expect(events.slice(1)).toEqual([
        { created: true, initial: false },
        { created: true, initial: false },
      ]);
      // That rebuild settled: its epoch is this process's, nothing more to rebuild.
      await watch.check();
      expect(events).toHaveLength(3);
    } finally {
      watch.stop();
      await redis.del(key);
      redis.disconnect();
    }
  });
});

/** A whole hub process (every role) on a private Redis and its own SQLite database. */
async function hubProcessOn(
  redisUrl: string,
  databaseUrl: string,
): Promise<{ hub: Awaited<ReturnType<typeof startHubProcess>>; prefix: string }> {
  const prefix = `{rl-${randomUUID().slice(0, 8)}}`;
  const loaded = parseConfig(
    [
      'hub:',
      '  mode: development',
      `  redisUrl: ${redisUrl}`,
      `  databaseUrl: ${databaseUrl}`,
      '  publicUrl: http://127.0.0.1:8080',
      '  listen: { host: 127.0.0.1, port: 0 }',
      `  keyPrefix: "${prefix}"`,
      '  secrets:',
      '    signing: ${env:T_SIGNING}',
      '    hashKey: ${env:T_HASH}',
      'catalog:',
      '  channels: { email: { title: E-mail } }',
      '  purposes:',
      '    marketing: { title: Marketing, notice: { text: Offers., version: "1" }, channels: [email] }',
      '',
    ].join('\n'),
    'redis-loss.yaml',
    { connectors: builtinConnectors, env: { T_SIGNING: 's'.repeat(40), T_HASH: 'k'.repeat(32) } },
  );
  if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
  const hub = await startHubProcess(loaded.config, {
    role: 'all',
    logger: silentLogger(),
    tuning: { redisCheckEveryMs: 1_000 },
    server: { queueBoard: false },
  });
  return { hub, prefix };
}

describe('a hub process after Redis loss', () => {
  it('re-creates the relay sweep and the privacy sweep by itself, without a restart', async () => {
    const redis = await killableRedis();
    const db = await createTestDatabase('sqlite');
    const { hub, prefix } = await hubProcessOn(redis.url, db.url);
    const sweeps = async (): Promise<string[]> => {
      const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      connection.on('error', () => undefined);
      const queues = [queueNames.relay, privacyQueues.requests].map(
        (name) => new Queue(name, { connection, prefix: queuePrefix(prefix, name) }),
      );
      try {
        return (await Promise.all(queues.map((q) => q.getJobSchedulers())))
          .flat()
          .map((s) => s.key)
          .sort();
      } finally {
        await Promise.all(queues.map((q) => q.close()));
        connection.disconnect();
      }
    };
    try {
      expect(await sweeps()).toEqual(['dsr-sweep', 'sweep']);
      await redis.kill();
      await sleep(500);
      await redis.start();
      const restartedAt = Date.now();
      await waitFor(async () => (await sweeps()).length === 2, 60_000, 'the sweeps');
      console.info(`[redis-loss hub process] relay and privacy sweeps back ${Date.now() - restartedAt} ms after the restart`);
      expect(await sweeps()).toEqual(['dsr-sweep', 'sweep']);
    } finally {
      await hub.close();
      await redis.kill();
      await db.drop();
    }
  }, 90_000);

  // A hub told to stop (SIGTERM) while Redis is away, or in the moments after it came back while
  // its workers' connections still wait to reconnect, stops: it used to wait for ever on BullMQ's
  // Worker.close (see test/integration/queue/close-while-down.test.ts).
  // Down 3 s: the workers' fetches wait for a connection. Down 10 s: their checks of a fetch
  // that never answered have fired too, and their next commands wait in the queue of the
  // connection they share with the engine.
  for (const [moment, downMs] of [
    ['3 s into an outage', 3_000],
    ['10 s into an outage', 10_000],
    ['right after Redis came back', 3_000],
  ] as const) {
    it(`stops ${moment}`, async () => {
      const redis = await killableRedis();
      const db = await createTestDatabase('sqlite');
      const { hub } = await hubProcessOn(redis.url, db.url);
      let outcome: 'closed' | 'still closing' | undefined;
      try {
        await sleep(300);
        await redis.kill();
        // ioredis waits 50 ms more before each attempt (at most 2 s): 3 s after the loss its
        // connections wait ~0.5 s between attempts, so the close below falls inside a wait even
        // with Redis started again (which takes ~60 ms) just before it.
        await sleep(downMs);
        if (moment === 'right after Redis came back') await redis.start();
        outcome = await settlesWithin(15_000, () => hub.close());
        expect(outcome).toBe('closed');
      } finally {
        if (outcome === undefined) await hub.close();
        await redis.kill();
        // A hub still stopping keeps its database open.
        if (outcome !== 'still closing') await db.drop();
      }
    }, 60_000);
  }
});
