/**
 * Batch reads of the records webhooks name as changed without carrying their values (HubSpot's
 * events, Mailchimp's e-mail changes, generic `changed` events).
 *
 * A webhook adds the ids it names to the connector's `changed` set (a ZSET: id -> earliest
 * receive time, `ZADD NX`) and makes sure a read job will take them. "Read at once when idle,
 * batch when busy", as pushes do: the first webhook that finds the connector's read stage idle
 * (no webhook named records for it in the last `idleAfterMs`) adds a job that reads one batch at
 * once; the webhooks that follow share the job of their window of `changedReadWaitMs` on the
 * connector's own `read.<connector>` queue, with an id derived from the window
 * (`read-<c>-<n>`), delayed to the window's end. That job takes the oldest ids in batches of
 * the connector's `maxBatch`, reads each batch with one `read` (the connector splits it into its
 * own calls) and ingests it, two batches at once (one is read while the other is ingested),
 * until the set is empty. Under a backlog (the vendor's rate limit) ids gather in the set while
 * a read waits, so every read is a full batch.
 *
 * Nothing is lost, a crash included: a batch is taken by moving its ids from `changed` to
 * `changedTaken` under a lease (`inflightLeaseMs`, one Lua script), and they leave it only once
 * ingested. A batch whose read or ingest fails goes back into `changed` (with its receive times)
 * before the job fails and is retried with backoff; a batch whose job died with its process goes
 * back when its lease expires, at the start of the next read job of the connector, and a job
 * that leaves ids behind (in either set) adds the job of a later window. The sets are a hint,
 * as the webhook is: if Redis loses them, the next pull of the connector reads the same changes
 * (its look-back covers them), as it does for any lost webhook.
 *
 * Each connector has its own queue and worker: a backlog of one vendor's reads, waiting on its
 * rate limit, never holds the shared ingest queue, so another system's changes never wait
 * behind it.
 */
import type { Job } from 'bullmq';
import type { SyncConnector } from '../bind.js';
import type { EngineContext } from '../context.js';
import { jobId } from '../../queue/keys.js';
import { jobOptions } from '../../queue/job-options.js';
import { LuaScript, NOW_MS_LUA } from '../../queue/lua.js';
import type { Ingestor, IngestOutcome } from './ingest.js';
import { ConnectorError } from '../../connector/errors.js';
import { execAll } from '../../queue/redis-health.js';

/** Batches one read job reads at once (each its own loop taking the oldest ids). */
const LOOPS_PER_JOB = 2;

/** A read job's data: the connector (the ids are in the `changed` set). */
export interface ChangedReadJob {
  connector: string;
  /** Read one batch and stop: the job a webhook adds when it finds the read stage idle. */
  once?: boolean;
}

/** KEYS changed, taken, takenAt; ARGV count, lease (ms). Moves the oldest ids to `taken`; returns ZPOPMIN's reply. */
const TAKE = new LuaScript(`${NOW_MS_LUA}
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), popped[i])
  redis.call('HSET', KEYS[3], popped[i], popped[i + 1])
end
return popped`);

/**
 * KEYS changed, taken, takenAt; ARGV 'done' | 'back', then id, receive time pairs. Ends the
 * lease of each id still taken with that receive time (an id taken again since, after a newer
 * webhook, belongs to that taker): 'back' puts it back into `changed` first.
 */
const RELEASE = new LuaScript(`
for i = 2, #ARGV, 2 do
  local id, at = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[3], id) == at then
    if ARGV[1] == 'back' then redis.call('ZADD', KEYS[1], 'LT', at, id) end
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return 0`);

/**
 * KEYS changed, taken, takenAt. Puts ids whose lease expired back into `changed`; returns how
 * many, and the next expiry (ms, as text) or nil when no id is taken (a Lua `false` reaches the
 * client as nil too: https://redis.io/docs/latest/develop/interact/programmability/lua-api/#lua-to-resp2-type-conversion).
 */
const RECOVER = new LuaScript(`${NOW_MS_LUA}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(expired) do
  local at = redis.call('HGET', KEYS[3], id) or now
  redis.call('ZADD', KEYS[1], 'LT', at, id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
local following = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {#expired, following[2] or false}`);

/** The job id of a connector's read window: the webhooks of one window share it. */
export function readJobId(connector: string, window: number): string {
  return jobId('read', connector, window);
}

/**
 * Notes records a webhook named as changed, and makes sure a read job will take them: one that
 * reads at once when the read stage was idle, else the window's job, delayed to its end (an
 * existing job of the same window is kept).
 */
export async function noteChanged(
  ctx: EngineContext,
  connector: string,
  externalIds: readonly string[],
  receivedAtMs: number,
): Promise<void> {
  const queue = ctx.queues.read.get(connector);
  if (!queue) throw new Error(`connector instance ${connector} reads no changed records`);
  if (externalIds.length === 0) return;
  const args = externalIds.flatMap((id) => [receivedAtMs, id]);
  const [, last] =
    (await execAll(
      ctx.redis
        .multi()
        .zadd(ctx.keys.changed(connector), 'NX', ...args)
        .set(ctx.keys.lastChanged(connector), Date.now(), 'PX', Math.max(1, ctx.tuning.idleAfterMs), 'GET'),
    )) ?? [];
  if (last && !last[0] && last[1] === null) {
    const data: ChangedReadJob = { connector, once: true };
    await queue.add('read', data, { ...jobOptions.read(ctx.tuning.ingestAttempts), jobId: jobId('read', connector, 'now', Date.now()) });
    return;
  }
  await addWindowJob(ctx, connector);
}

/** The job of the window `notBefore` falls in, delayed to that window's end. */
async function addWindowJob(ctx: EngineContext, connector: string, notBefore = Date.now()): Promise<void> {
  const queue = ctx.queues.read.get(connector);
  if (!queue) return;
  const wait = Math.max(1, ctx.tuning.changedReadWaitMs);
  const window = Math.floor(notBefore / wait);
  const data: ChangedReadJob = { connector };
  await queue.add('read', data, {
    ...jobOptions.read(ctx.tuning.ingestAttempts),
    jobId: readJobId(connector, window),
    delay: Math.max(0, (window + 1) * wait - Date.now()),
  });
}

/** The processor of the `read.<connector>` queues. */
export class ChangedReader {
  constructor(
    private readonly ctx: EngineContext,
    private readonly ingestor: Ingestor,
  ) {}

  /** Reads and ingests the connector's changed records, a batch at a time, until none is left. */
  async process(
    job: Job<ChangedReadJob>,
    signal?: AbortSignal,
  ): Promise<Record<IngestOutcome, number> & { reads: number; refused: number }> {
    const connector = this.ctx.connectors.get(job.data.connector);
    const counts = { applied: 0, unchanged: 0, echo: 0, deleted: 0, suppressed: 0, no_identity: 0, reads: 0, refused: 0 };
    if (!connector) return counts;
    const { redis, keys, tuning } = this.ctx;
    const sets = [keys.changed(connector.id), keys.changedTaken(connector.id), keys.changedTakenAt(connector.id)];
    const release = (how: 'done' | 'back', taken: { id: string; at: string }[]) =>
      RELEASE.run(redis, sets, [how, ...taken.flatMap(({ id, at }) => [id, at])]);
    // Batches a crashed job took and never ingested: back in the set once their lease expired.
    await RECOVER.run(redis, sets, []);
    const loop = async (): Promise<void> => {
      do {
        if (signal?.aborted) return;
        const taken = pairs((await TAKE.run(redis, sets, [connector.limits.maxBatch, tuning.inflightLeaseMs])) as string[]);
        if (taken.length === 0) return;
        // A record in a batch the connector refused is read alone: one bad record holds no other.
        const suspect = new Set(await this.suspects(connector.id, taken));
        const batches = [taken.filter((t) => !suspect.has(t.id)), ...taken.filter((t) => suspect.has(t.id)).map((t) => [t])];
        for (const batch of batches) {
          if (batch.length === 0) continue;
          try {
            const outcomes = await this.readBatch(connector, batch, signal);
            counts.reads++;
            for (const o of outcomes) counts[o]++;
          } catch (err) {
            if (!(err instanceof ConnectorError) || err.retryable) {
              // Back into the set, each with the earlier of its receive times: the retry (or the next window) reads it.
              await release('back', batches.flat());
              throw err;
            }
            const givenUp = await this.refused(connector.id, batch, suspect, err);
            counts.refused += givenUp ? 1 : 0;
            await release(givenUp ? 'done' : 'back', batch);
            continue;
          }
          await release('done', batch);
          if (batch.length === 1 && suspect.has(batch[0]?.id ?? ''))
            await redis.hdel(keys.changedSuspect(connector.id), batch[0]?.id ?? '');
        }
      } while (job.data.once !== true);
    };
    try {
      // One batch read while the previous batch is ingested: the vendor's budget, not our store, sets the pace.
      const settled = await Promise.allSettled(Array.from({ length: job.data.once === true ? 1 : LOOPS_PER_JOB }, loop));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      // Ids added after the last look, or put back by a failure, get a job of a later window;
      // ids another job holds under lease, one at the lease's end (it may have died with them).
      const [, leaseEnds] = (await RECOVER.run(redis, sets, [])) as [number, string | null];
      if ((await redis.zcard(sets[0] ?? '')) > 0) await addWindowJob(this.ctx, connector.id, Date.now() + tuning.changedReadWaitMs);
      else if (leaseEnds !== null) await addWindowJob(this.ctx, connector.id, Number(leaseEnds));
    }
    this.ctx.logger.info({ connector: connector.id, jobId: job.id, ...counts }, 'changed records read');
    return counts;
  }

  /** Which of the taken records were in a batch the connector refused. */
  private async suspects(connector: string, taken: readonly { id: string }[]): Promise<string[]> {
    const flags = await this.ctx.redis.hmget(this.ctx.keys.changedSuspect(connector), ...taken.map((t) => t.id));
    return taken.filter((_, i) => flags[i] !== null).map((t) => t.id);
  }

  /**
   * A batch the connector refused (not retryable: a malformed answer, a 4xx): its records become
   * suspects, each read alone next; a suspect refused alone is given up (true) (the webhook was a hint:
   * the next pull reads it, and its refusal is logged with the error's code).
   */
  private async refused(
    connector: string,
    batch: readonly { id: string }[],
    suspect: ReadonlySet<string>,
    err: ConnectorError,
  ): Promise<boolean> {
    const key = this.ctx.keys.changedSuspect(connector);
    const [only] = batch;
    if (batch.length === 1 && only && suspect.has(only.id)) {
      await this.ctx.redis.hdel(key, only.id);
      // The code only: a refusal's message may quote the record.
      this.ctx.logger.warn(
        { connector, code: err.code },
        'a changed record the connector refuses to read was given up; the next pull reads it',
      );
      return true;
    }
    await this.ctx.redis.hset(key, Object.fromEntries(batch.map((t) => [t.id, '1'])));
    return false;
  }

  private async readBatch(connector: SyncConnector, taken: { id: string; at: string }[], signal?: AbortSignal): Promise<IngestOutcome[]> {
    const receivedAt = new Map(taken.map(({ id, at }) => [id, new Date(Number(at)).toISOString()]));
    // A record the read answers under another id (a merged contact, Mailchimp's contact id for a
    // subscriber hash) takes the batch's latest receive time: its values are read after it.
    const latest = new Date(Math.max(...taken.map((t) => Number(t.at)))).toISOString();
    return this.ingestor.readAndIngest(
      connector,
      taken.map((t) => t.id),
      latest,
      (record) => receivedAt.get(record.externalId),
      signal,
    );
  }
}

/** `ZPOPMIN`'s flat reply as ids and scores (as Redis wrote them: the lease's hash holds the same text). */
function pairs(flat: string[]): { id: string; at: string }[] {
  const out: { id: string; at: string }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i] ?? '', at: flat[i + 1] ?? '0' });
  return out;
}
