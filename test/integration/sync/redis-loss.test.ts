/**
 * Redis holds work, never truth: Redis (no persistence) is killed while pushes are pending and
 * comes back empty. Every change the hub had acknowledged still reaches every system, the job
 * schedulers come back by themselves, and webhooks are refused at once while Redis is away.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { queueNames } from '../../../src/sync/keys.js';
import { TEST_DIALECTS } from '../../helpers/db.js';
import { signMemoryWebhook } from '../../helpers/memory-system/signature.js';
import { killableRedis } from '../../helpers/private-redis.js';
import type { KillableRedis } from '../../helpers/private-redis.js';
import { startHub, waitFor, WEBHOOK_SECRET } from './harness.js';
import type { Hub } from './harness.js';

const PEOPLE = Array.from({ length: 13 }, (_, i) => `person${i}@example.com`);
const TARGETS = ['b', 'c'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The job schedulers the engine keeps: the relay's sweep and one pull per connector. */
async function schedulers(redisUrl: string, prefix: string): Promise<string[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const queues = [queueNames.relay, ...['a', 'b', 'c'].map((id) => queueNames.pull(id))].map((name) => new Queue(name, { connection, prefix }));
  try {
    const lists = await Promise.all(queues.map((q) => q.getJobSchedulers()));
    return lists.flat().map((s) => s.key).sort();
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
    hub = await startHub({ dialect, redisUrl: redis.url, systems: [{ id: 'a', ...slow }, { id: 'b', ...slow }, { id: 'c', ...slow }] });
    const { a } = hub.systems;
    if (!a) throw new Error('no system a');
    const valueIn = (id: string, email: string) => hub?.systems[id]?.get({ email })?.fields['first_name'];
    const missing = (value: string) => PEOPLE.flatMap((email) => TARGETS.filter((id) => valueIn(id, email) !== value).map((id) => `${id}:${email}`));

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
