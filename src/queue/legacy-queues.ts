/**
 * Moving an earlier version's queued jobs. Up to version 0.1 every BullMQ queue was on the
 * deployment's hash tag (`{concord}:ingest:wait`); now each is on its own
 * (`{concord.ingest}:ingest:wait`, see `queuePrefix`), so a new process does not see the jobs
 * an earlier one left queued: webhooks' records waiting to be ingested, reads, pulls someone
 * asked for, data-subject requests' exports and erasure batches. At start, the jobs of each
 * queue the process opens are added to the queue of the same name under the new layout (name,
 * data and options; a delayed job keeps its due time) and deleted from the old one, oldest
 * first: the active ones whose lock expired (their process is gone: BullMQ would put them back
 * first), then those waiting, prioritized, delayed, and failed (a job that had failed for good is
 * tried once more, and shows on the queue board if it fails again). A job is claimed atomically
 * (out of its state into a staging list, with the state it had, only while no worker holds
 * its lock), so a worker of the earlier version still running keeps what it took and never runs
 * a moved job (what it holds, or retries after the move, stays for a later start); a process
 * dying mid-move leaves the claimed jobs in the staging list, which the next start finishes
 * first. A moved job starts its attempts afresh. Job schedulers (the relay sweep, the pulls' schedules) are removed: the new version
 * schedules its own. One process moves at a time (`withUpgradeLock`); the old queues are never
 * obliterated, since the privacy module's own keys share the old `dsr` queue's prefix.
 */
import { Job, Queue, type JobsOptions } from 'bullmq';
import type { Logger } from 'pino';
import { LuaScript } from './lua.js';
import type { RedisClient } from './redis-client.js';
import { withUpgradeLock, type RenewLock } from './upgrade-lock.js';

/** The states whose jobs move, in the order they move, and the kind of BullMQ key holding each. */
const MOVED_STATES = [
  { state: 'active', kind: 'list' },
  { state: 'wait', kind: 'list' },
  { state: 'prioritized', kind: 'zset' },
  { state: 'delayed', kind: 'zset' },
  { state: 'failed', kind: 'zset' },
] as const;
/** Where claimed jobs wait until they are in the new queue (a list of the old queue's), and what each was (a hash). */
const STAGING = 'upgrading';
const STAGED_FROM = 'upgrading-from';
/** Job ids read per round. */
const PAGE = 200;

/**
 * KEYS state, staging, job lock, staged-from; ARGV id, 'list' | 'zset', state. Takes the job
 * out of its state into the staging list unless a worker holds its lock, noting the state and
 * score it had (a delayed job's due time is in its score): -1 held, 0 no longer there, else 1.
 */
const CLAIM = new LuaScript(`if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local score = ''
if ARGV[2] == 'list' then
  if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
else
  score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not score then return 0 end
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3] .. ' ' .. score)
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1`);

/**
 * Moves the jobs the earlier layout holds for the queues of these names into them (see the
 * module). One EXISTS when there is nothing to move. Returns how many jobs were added.
 */
export async function moveLegacyQueueJobs(
  redis: RedisClient,
  deployment: string,
  targets: readonly Queue[],
  logger: Logger,
): Promise<number> {
  // The old queues' keys all share the deployment's tag: one command asks for them all.
  const probes = targets.flatMap((q) => [...MOVED_STATES.map((s) => s.state), STAGING].map((state) => `${deployment}:${q.name}:${state}`));
  const anything = async (): Promise<boolean> => probes.length > 0 && (await redis.exists(...probes)) > 0;
  if (!(await anything())) return 0;
  const counts = await withUpgradeLock(redis, `${deployment}:queues:upgrade-lock`, anything, async (renew) => {
    const moved: Record<string, number> = {};
    for (const into of targets) {
      const old = new Queue(into.name, { connection: redis, prefix: deployment });
      try {
        const n = await new QueueMove(redis, old, into, `${deployment}:${into.name}`, renew).run();
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

class QueueMove {
  private added = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly old: Queue,
    private readonly into: Queue,
    private readonly keyPrefix: string,
    private readonly renew: RenewLock,
  ) {}

  async run(): Promise<number> {
    for (const scheduler of await this.old.getJobSchedulers()) {
      if (scheduler.key) await this.old.removeJobScheduler(scheduler.key);
    }
    // Claimed by a process that died before it finished them.
    for (const id of (await this.redis.lrange(this.key(STAGING), 0, -1)).reverse()) await this.finish(id);
    for (const { state, kind } of MOVED_STATES) {
      const held = new Set<string>();
      for (;;) {
        await this.renew();
        const ids = await this.page(state, kind, held.size);
        const fresh = ids.filter((id) => !held.has(id));
        if (fresh.length === 0) break;
        for (const id of fresh) {
          const keys = [this.key(state), this.key(STAGING), this.key(`${id}:lock`), this.key(STAGED_FROM)];
          const claimed = Number(await CLAIM.run(this.redis, keys, [id, kind, state]));
          if (claimed === -1) held.add(id);
          if (claimed === 1) await this.finish(id);
        }
      }
    }
    return this.added;
  }

  /** The oldest ids of a state (lists take from their tail), past the ones a worker holds. */
  private async page(state: string, kind: 'list' | 'zset', skip: number): Promise<string[]> {
    if (kind === 'zset') return this.redis.zrange(this.key(state), 0, PAGE + skip - 1);
    return (await this.redis.lrange(this.key(state), -(PAGE + skip), -1)).reverse();
  }

  /** Adds a claimed job to the new queue (unless a job of its id is there), then deletes it and its staging entries. */
  private async finish(id: string): Promise<void> {
    const [state, score] = ((await this.redis.hget(this.key(STAGED_FROM), id)) ?? '').split(' ');
    // A delayed job's score is its due time times 4096 (BullMQ orders jobs due together by a counter).
    const how = { failed: state === 'failed', ...(state === 'delayed' && score ? { dueAt: Math.floor(Number(score) / 0x1000) } : {}) };
    const job = await Job.fromId(this.old, id);
    if (job) {
      // A scheduler's next run is not moved: the new version schedules its own.
      const opts = job.repeatJobKey === undefined ? movedOptions(job, how) : undefined;
      if (opts?.jobId !== undefined && !(await this.into.getJob(opts.jobId))) {
        await this.into.add(job.name, job.data, opts);
        this.added++;
      }
      await job.remove();
    }
    await this.redis.lrem(this.key(STAGING), 0, id);
    await this.redis.hdel(this.key(STAGED_FROM), id);
  }

  private key(suffix: string): string {
    return `${this.keyPrefix}:${suffix}`;
  }
}

/**
 * A job's options under the new layout: its own, its due time if delayed, one more attempt if it
 * had failed for good, an id the new queue cannot have given another job.
 */
function movedOptions(job: Job, how: { failed?: boolean; dueAt?: number }): JobsOptions {
  const { delay: _delay, jobId: _id, ...opts } = job.opts;
  const left = how.dueAt === undefined ? 0 : Math.max(0, how.dueAt - Date.now());
  // BullMQ numbers jobs added without an id: such a number may already be taken in the new queue.
  const id = /^\d+$/.test(job.id ?? '') ? `upgraded-${job.id ?? ''}` : (job.id ?? '');
  return { ...opts, jobId: id, ...(left > 0 ? { delay: left } : {}), ...(how.failed ? { attempts: 1 } : {}) };
}
