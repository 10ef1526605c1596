/**
 * Upgrading from the layout where every BullMQ queue shared the deployment's hash tag
 * (`{p}:ingest:wait`) to one tag per queue (`{p.ingest}:ingest:wait`): at start the jobs left
 * under the old keys move to the queue of the same name (waiting ones in order, delayed ones
 * with what is left of their delay, failed ones tried again; active ones only once their
 * worker's lock expired), and the old job schedulers go. Real Redis and BullMQ.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { queueNames, queuePrefix } from '../../../src/queue/keys.js';
import { moveLegacyQueueJobs } from '../../../src/queue/legacy-queues.js';
import { withUpgradeLock } from '../../../src/queue/upgrade-lock.js';
import type { IngestRecordsJob } from '../../../src/sync/inbound/ingest.js';
import { deletePrefix, REDIS_URL, startHub, waitFor } from '../../../harness/sync-hub.js';
import { startPrivacyHub } from '../../../harness/privacy-hub.js';
import { privacyQueues } from '../../../src/privacy/keys.js';

const redis = new Redis(REDIS_URL);
const silent = pino({ level: 'silent' });

afterAll(async () => {
  await redis.quit();
});

/** What a test opened: its queues closed and its prefix's keys deleted after it. */
const opened: { prefix: string; queues: Queue[] }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await Promise.all(o.queues.map((q) => q.close()));
    await deletePrefix(o.prefix);
  }
});

/** A fresh deployment prefix, the earlier layout's queue of this name under it, and the current one. */
function queues(name: string): { prefix: string; old: Queue; current: Queue } {
  const prefix = `{lq-${randomBytes(5).toString('hex')}}`;
  const old = new Queue(name, { connection: redis, prefix });
  const current = new Queue(name, { connection: redis, prefix: queuePrefix(prefix, name) });
  opened.push({ prefix, queues: [old, current] });
  return { prefix, old, current };
}

describe("an earlier version's queued jobs", () => {
  it('move to the queue of the same name: waiting in order, delays kept, failed tried again, schedulers dropped; a second start finds nothing', async () => {
    const { prefix, old, current } = queues('work');
    // Numbered by BullMQ (1, 2, 3), one with an id of its own, one delayed a minute.
    for (const n of [1, 2, 3]) await old.add('step', { n });
    await old.add('named', { n: 4 }, { jobId: 'read-hubspot-7', attempts: 5, backoff: { type: 'exponential', delay: 100 } });
    // Delayed a minute from now, by BullMQ after it was created an hour ago (a retry's backoff).
    const later = await old.add('later', { n: 5 }, { delay: 60_000 });
    await redis.hset(`${prefix}:work:${later.id ?? ''}`, 'timestamp', String(Date.now() - 3_600_000));
    // Active for a worker that is gone (its lock expired): BullMQ would take it back first.
    await old.add('stalled', { n: 0 }, { jobId: 'stalled-1' });
    await redis.lrem(`${prefix}:work:wait`, 0, 'stalled-1');
    await redis.lpush(`${prefix}:work:active`, 'stalled-1');
    await old.upsertJobScheduler('sweep', { every: 5_000 }, { name: 'sweep', data: {} });
    // One failed for good under the earlier version (as BullMQ leaves it: in the failed set).
    await old.add('broken', { n: 6 }, { jobId: 'broken-1' });
    await redis.lrem(`${prefix}:work:wait`, 0, 'broken-1');
    await redis.zadd(`${prefix}:work:failed`, Date.now(), 'broken-1');
    await redis.hset(`${prefix}:work:broken-1`, 'failedReason', 'gave up', 'finishedOn', String(Date.now()));
    expect(await old.getJobState('broken-1')).toBe('failed');
    // Another job already in the new queue under one of the ids: it is kept, not doubled.
    await current.add('named', { n: 40 }, { jobId: 'read-hubspot-7' });

    const started = Date.now();
    // Six moved; the one whose id the new queue already had is dropped, not counted.
    expect(await moveLegacyQueueJobs(redis, prefix, [current], silent)).toBe(6);

    const waiting = await current.getJobs(['wait'], 0, -1, true);
    expect(waiting.map((j) => [j.name, j.data, j.id])).toEqual([
      ['named', { n: 40 }, 'read-hubspot-7'],
      ['stalled', { n: 0 }, 'stalled-1'],
      ['step', { n: 1 }, 'upgraded-1'],
      ['step', { n: 2 }, 'upgraded-2'],
      ['step', { n: 3 }, 'upgraded-3'],
      ['broken', { n: 6 }, 'broken-1'],
    ]);
    const [delayed] = await current.getJobs(['delayed']);
    expect(delayed?.data).toEqual({ n: 5 });
    expect((delayed?.timestamp ?? 0) + (delayed?.delay ?? 0)).toBeGreaterThan(started + 55_000);
    expect((delayed?.timestamp ?? 0) + (delayed?.delay ?? 0)).toBeLessThanOrEqual(Date.now() + 60_000);
    // Failed for good: tried once more.
    expect((await current.getJob('broken-1'))?.opts.attempts).toBe(1);
    expect(await current.getJobSchedulers()).toEqual([]);
    expect(await old.getJobSchedulers()).toEqual([]);
    const states = ['wait', 'delayed', 'prioritized', 'failed', 'active', 'upgrading'].map((s) => `${prefix}:work:${s}`);
    expect(await redis.exists(...states)).toBe(0);
    expect(await moveLegacyQueueJobs(redis, prefix, [current], silent)).toBe(0);
  });

  it("leave an active job to the earlier version's worker while it holds its lock; two processes starting at once move each job once", async () => {
    const { prefix, old, current } = queues('work');
    for (let n = 0; n < 40; n++) await old.add('step', { n });
    // Taken by a worker of the earlier version that still runs (its lock is held).
    const held = await old.add('held', { n: 99 }, { jobId: 'held-1' });
    await redis.lrem(`${prefix}:work:wait`, 0, 'held-1');
    await redis.lpush(`${prefix}:work:active`, 'held-1');
    await redis.set(`${prefix}:work:held-1:lock`, 'a-worker-token', 'PX', 60_000);

    const moved = await Promise.all([
      moveLegacyQueueJobs(redis, prefix, [current], silent),
      moveLegacyQueueJobs(redis, prefix, [current], silent),
    ]);
    expect(moved[0] + moved[1]).toBe(40);
    const waiting = await current.getJobs(['wait'], 0, -1, true);
    expect(waiting.map((j) => (j.data as { n: number }).n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(await old.getJobState(held.id ?? '')).toBe('active');

    // Its worker is gone (the lock expired): the next start moves it.
    await redis.del(`${prefix}:work:held-1:lock`);
    expect(await moveLegacyQueueJobs(redis, prefix, [current], silent)).toBe(1);
    expect((await current.getJob('held-1'))?.data).toEqual({ n: 99 });
  });

  // Review: a worker of the earlier version still running took jobs between the page read and
  // their move, or finished them first: 521 and 1,040 of 2,000 ran twice.
  it('a worker of the earlier version still running never runs a job that moved: each job runs once', async () => {
    const { prefix, old, current } = queues('work');
    const n = 1_000;
    const runs = new Map<number, number>();
    // The old worker is slow (10 jobs at a time, 20 ms each: 2 s for all), so that jobs are still
    // waiting when the move runs even on a loaded machine (a Node 24 CI run found none left).
    const count =
      (ms: number) =>
      async (job: Job): Promise<void> => {
        const k = (job.data as { n: number }).n;
        runs.set(k, (runs.get(k) ?? 0) + 1);
        await sleep(ms);
      };
    const connections: Redis[] = [];
    const worker = (queue: string, p: string, ms: number): Worker => {
      const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      connections.push(connection);
      return new Worker(queue, count(ms), { connection, prefix: p, concurrency: 10 });
    };
    let oldWorker: Worker | undefined;
    let newWorker: Worker | undefined;
    try {
      await old.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'step', data: { n: k } })));
      oldWorker = worker('work', prefix, 20);
      await waitFor(() => runs.size > 20, 10_000);
      const moved = await moveLegacyQueueJobs(redis, prefix, [current], silent);
      newWorker = worker('work', queuePrefix(prefix, 'work'), 2);
      await waitFor(() => runs.size === n, 30_000, 'every job run');
      await sleep(200);
      expect([...runs.values()].filter((r) => r !== 1)).toEqual([]);
      expect(moved).toBeGreaterThan(0);
    } finally {
      await oldWorker?.close();
      await newWorker?.close();
      await Promise.all(connections.map((c) => c.quit()));
    }
  });

  // Re-review: a job a dead mover had claimed was finished as a plain waiting job.
  it('a job a mover claimed before it died keeps its state: delayed stays due when it was due, failed is tried once', async () => {
    const { prefix, old, current } = queues('work');
    const later = await old.add('later', { n: 1 }, { jobId: 'later-1', delay: 3_600_000 });
    const broken = await old.add('broken', { n: 2 }, { jobId: 'broken-2', attempts: 5 });
    await redis.lrem(`${prefix}:work:wait`, 0, 'broken-2');
    await redis.zadd(`${prefix}:work:failed`, Date.now(), 'broken-2');
    // What the claim script leaves when the process dies right after it.
    const score = await redis.zscore(`${prefix}:work:delayed`, later.id ?? '');
    await redis.zrem(`${prefix}:work:delayed`, later.id ?? '');
    await redis.zrem(`${prefix}:work:failed`, broken.id ?? '');
    await redis.hset(`${prefix}:work:upgrading-from`, 'later-1', `delayed ${score ?? ''}`, 'broken-2', `failed ${Date.now()}`);
    await redis.lpush(`${prefix}:work:upgrading`, 'later-1', 'broken-2');

    expect(await moveLegacyQueueJobs(redis, prefix, [current], silent)).toBe(2);
    expect(await current.getJobState('later-1')).toBe('delayed');
    const moved = await current.getJob('later-1');
    expect((moved?.timestamp ?? 0) + (moved?.delay ?? 0)).toBeGreaterThan(Date.now() + 3_500_000);
    expect((await current.getJob('broken-2'))?.opts.attempts).toBe(1);
    expect(await redis.exists(`${prefix}:work:upgrading`, `${prefix}:work:upgrading-from`)).toBe(0);
  });

  it('a mover whose lock expired takes it again if nobody did, and stops if another process holds it', async () => {
    const lock = `{lq-${randomBytes(5).toString('hex')}}:queues:upgrade-lock`;
    try {
      await withUpgradeLock(
        redis,
        lock,
        async () => true,
        async (renew) => {
          await redis.del(lock);
          await renew();
          expect(await redis.pttl(lock)).toBeGreaterThan(60_000);
          await redis.set(lock, 'another-process');
          await expect(renew()).rejects.toThrow(/lost the upgrade lock/);
        },
      );
      // It leaves the other process's lock alone.
      expect(await redis.get(lock)).toBe('another-process');
    } finally {
      await redis.del(lock);
    }
  });

  it('a webhook record left waiting in the ingest queue by the earlier version is ingested once the engine starts', async () => {
    const prefix = `{lq-${randomBytes(5).toString('hex')}}`;
    const hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'a' }, { id: 'b' }], roles: false, prefix });
    const old = new Queue(queueNames.ingest, { connection: redis, prefix });
    try {
      const at = new Date().toISOString();
      const job: IngestRecordsJob = {
        kind: 'records',
        connector: 'a',
        origin: 'webhooks',
        receivedAt: at,
        records: [{ externalId: 'a-1', at, fields: { email: 'queued@example.com', first_name: 'Queued' } }],
      };
      await old.add('records', job);
      await hub.engine.start();
      await waitFor(async () => (await hub.profiles()).length === 1, 15_000);
      const [profile] = await hub.profiles();
      expect(profile?.identities.map((i) => i.value)).toContain('queued@example.com');
      // And it reaches the other system.
      await hub.settle();
      expect(hub.systems.b?.get({ email: 'queued@example.com' })?.fields).toMatchObject({ first_name: 'Queued' });
      expect(await redis.exists(`${prefix}:ingest:wait`)).toBe(0);
    } finally {
      await old.close();
      await hub.close();
    }
  });

  it("the privacy workers move the earlier version's jobs of their queues, and run them", async () => {
    const prefix = `{lq-${randomBytes(5).toString('hex')}}`;
    const old = new Queue(privacyQueues.requests, { connection: redis, prefix });
    await old.add('sweep', {}, { jobId: 'sweep-left-behind' });
    const hub = await startPrivacyHub({ dialect: 'sqlite', prefix });
    const current = new Queue(privacyQueues.requests, { connection: redis, prefix: queuePrefix(prefix, privacyQueues.requests) });
    try {
      await waitFor(async () => (await current.getJobState('sweep-left-behind')) === 'completed', 15_000, 'the moved sweep run');
      expect(await redis.exists(`${prefix}:${privacyQueues.requests}:wait`)).toBe(0);
    } finally {
      await old.close();
      await current.close();
      await hub.close();
    }
  });
});
