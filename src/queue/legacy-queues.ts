/**
 * Moving an earlier version's queued jobs. Up to version 0.1 every BullMQ queue was on the
 * deployment's hash tag (`{concord}:ingest:wait`); now each is on its own
 * (`{concord.ingest}:ingest:wait`, see `queuePrefix`), so a new process does not see the jobs
 * an earlier one left queued: webhooks' records waiting to be ingested, reads, pulls someone
 * asked for, data-subject requests' exports and erasure batches. At start, the jobs of each
 * queue the process opens are added to the queue of the same name under the new layout (name,
 * data and options; a delayed job keeps what is left of its delay) and removed from the old
 * one: those waiting, delayed, prioritized or failed (a job that had failed for good is
 * tried once more, and shows on the queue board if it fails again), and the active ones whose
 * lock expired (their process is gone; one still locked is left to it, and moved by a later
 * start). Job schedulers (the relay sweep, the pulls' schedules) are removed: the new version
 * schedules its own. One process moves at a time (`withUpgradeLock`); the old queues are never
 * obliterated, since the privacy module's own keys share the old `dsr` queue's prefix.
 */
import { Queue, type Job, type JobsOptions, type JobType } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from './redis-client.js';
import { withUpgradeLock } from './upgrade-lock.js';

/** The states whose jobs move (each also the name of the BullMQ key holding them). */
const MOVED_STATES: readonly JobType[] = ['wait', 'prioritized', 'delayed', 'failed', 'active'];
/** Jobs read and moved per round. */
const PAGE = 500;

/**
 * Moves the jobs the earlier layout holds for the queues of these names into them (see the
 * module). One EXISTS when there is nothing to move. Returns how many jobs moved.
 */
export async function moveLegacyQueueJobs(
  redis: RedisClient,
  deployment: string,
  targets: readonly Queue[],
  logger: Logger,
): Promise<number> {
  const names = targets.map((q) => q.name);
  // The old queues' keys all share the deployment's tag: one command asks for them all.
  const probes = names.flatMap((name) => MOVED_STATES.map((state) => `${deployment}:${name}:${state}`));
  const anything = async (): Promise<boolean> => probes.length > 0 && (await redis.exists(...probes)) > 0;
  if (!(await anything())) return 0;
  const counts = await withUpgradeLock(redis, `${deployment}:queues:upgrade-lock`, anything, async () => {
    const moved: Record<string, number> = {};
    for (const into of targets) {
      const old = new Queue(into.name, { connection: redis, prefix: deployment });
      try {
        const n = await moveQueue(old, into, redis, `${deployment}:${into.name}`);
        if (n > 0) moved[into.name] = n;
      } finally {
        await old.close();
      }
    }
    return moved;
  });
  const total = Object.values(counts ?? {}).reduce((sum, n) => sum + n, 0);
  if (total > 0) logger.info({ jobs: counts }, "moved an earlier version's queued jobs onto each queue's hash tag");
  return total;
}

async function moveQueue(old: Queue, into: Queue, redis: RedisClient, keyPrefix: string): Promise<number> {
  for (const scheduler of await old.getJobSchedulers()) {
    if (scheduler.key) await old.removeJobScheduler(scheduler.key);
  }
  let moved = 0;
  const skipped = new Set<string>();
  for (;;) {
    // Oldest first, so the new queue takes them in the order they were added.
    const page = (await old.getJobs([...MOVED_STATES], 0, PAGE - 1 + skipped.size, true)).filter(
      (job): job is Job => job !== undefined && job.id !== undefined && !skipped.has(job.id),
    );
    if (page.length === 0) return moved;
    for (const job of page) {
      const id = job.id ?? '';
      // Still held by a worker of the earlier version: left to it.
      if ((await job.isActive()) && (await redis.exists(`${keyPrefix}:${id}:lock`)) > 0) {
        skipped.add(id);
        continue;
      }
      if (job.repeatJobKey === undefined) {
        await into.add(job.name, job.data, movedOptions(job));
        moved++;
      }
      await job.remove();
    }
  }
}

/** A job's options under the new layout: its own, what is left of its delay, an id the new queue cannot have given another job. */
function movedOptions(job: Job): JobsOptions {
  const { delay: _delay, jobId: _id, ...opts } = job.opts;
  const left = job.delay > 0 ? Math.max(0, job.timestamp + job.delay - Date.now()) : 0;
  // BullMQ numbers jobs added without an id: such a number may already be taken in the new queue.
  const id = /^\d+$/.test(job.id ?? '') ? `upgraded-${job.id ?? ''}` : (job.id ?? '');
  return { ...opts, jobId: id, ...(left > 0 ? { delay: left } : {}) };
}
