/**
 * Batch reads of the records webhooks name as changed without carrying their values (HubSpot's
 * events, Mailchimp's e-mail changes, generic `changed` events).
 *
 * A webhook adds the ids it names to the connector's `changed` set (a ZSET: id -> earliest
 * receive time, `ZADD NX`) and a read job for the current window of `changedReadWaitMs` on the
 * connector's own `read.<connector>` queue, with an id derived from the window (`read-<c>-<n>`):
 * the webhooks of one window share one job, delayed to the window's end. The job takes the
 * oldest ids in batches of the connector's `maxBatch` (`ZPOPMIN`, so jobs running at once take
 * different ids), reads each batch with one `read` (the connector splits it into its own calls)
 * and ingests it, two batches at once (one is read while the other is ingested), until the set
 * is empty. Under a backlog (the vendor's rate limit) ids gather
 * in the set while a read waits, so every read is a full batch.
 *
 * Nothing is lost: a batch whose read or ingest fails goes back into the set (with its receive
 * times) before the job fails and is retried with backoff; a job that leaves ids behind (taken
 * back by a failure, or added after its last look) adds the next window's job. The set is a
 * hint, as the webhook is: if Redis loses it, the next pull of the connector reads the same
 * changes (its look-back covers them), as it does for any lost webhook.
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
import type { Ingestor, IngestOutcome } from './ingest.js';

/** Batches one read job reads at once (each its own loop taking the oldest ids). */
const LOOPS_PER_JOB = 2;

/** A read job's data: only the connector; the ids are in the `changed` set. */
export interface ChangedReadJob {
  connector: string;
}

/** The job id of a connector's read window: the webhooks of one window share it. */
export function readJobId(connector: string, window: number): string {
  return jobId('read', connector, window);
}

/**
 * Notes records a webhook named as changed, and makes sure a read job will take them: the
 * window's job, delayed to its end (an existing job of the same window is kept).
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
  await ctx.redis.zadd(ctx.keys.changed(connector), 'NX', ...args);
  await addWindowJob(ctx, connector, Date.now());
}

async function addWindowJob(ctx: EngineContext, connector: string, now: number): Promise<void> {
  const queue = ctx.queues.read.get(connector);
  if (!queue) return;
  const wait = Math.max(1, ctx.tuning.changedReadWaitMs);
  const window = Math.floor(now / wait);
  const data: ChangedReadJob = { connector };
  await queue.add('read', data, {
    ...jobOptions.read(ctx.tuning.ingestAttempts),
    jobId: readJobId(connector, window),
    delay: Math.max(0, (window + 1) * wait - now),
  });
}

/** The processor of the `read.<connector>` queues. */
export class ChangedReader {
  constructor(
    private readonly ctx: EngineContext,
    private readonly ingestor: Ingestor,
  ) {}

  /** Reads and ingests the connector's changed records, a batch at a time, until none is left. */
  async process(job: Job<ChangedReadJob>, signal?: AbortSignal): Promise<Record<IngestOutcome, number> & { reads: number }> {
    const connector = this.ctx.connectors.get(job.data.connector);
    const counts = { applied: 0, unchanged: 0, echo: 0, deleted: 0, suppressed: 0, no_identity: 0, reads: 0 };
    if (!connector) return counts;
    const key = this.ctx.keys.changed(connector.id);
    const loop = async (): Promise<void> => {
      for (;;) {
        if (signal?.aborted) return;
        const popped = await this.ctx.redis.zpopmin(key, connector.limits.maxBatch);
        if (popped.length === 0) return;
        const taken = pairs(popped);
        try {
          const outcomes = await this.readBatch(connector, taken, signal);
          counts.reads++;
          for (const o of outcomes) counts[o]++;
        } catch (err) {
          // Back into the set, each with the earlier of its receive times: the retry (or the next window) reads it.
          await this.ctx.redis.zadd(key, 'LT', ...taken.flatMap(({ id, at }) => [at, id]));
          throw err;
        }
      }
    };
    try {
      // One batch read while the previous batch is ingested: the vendor's budget, not our store, sets the pace.
      const settled = await Promise.allSettled(Array.from({ length: LOOPS_PER_JOB }, loop));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      // Ids added after the last look, or put back by a failure, get a job of a later window.
      if ((await this.ctx.redis.zcard(key)) > 0) await addWindowJob(this.ctx, connector.id, Date.now() + this.ctx.tuning.changedReadWaitMs);
    }
    this.ctx.logger.info({ connector: connector.id, jobId: job.id, ...counts }, 'changed records read');
    return counts;
  }

  private async readBatch(connector: SyncConnector, taken: { id: string; at: number }[], signal?: AbortSignal): Promise<IngestOutcome[]> {
    const receivedAt = new Map(taken.map(({ id, at }) => [id, new Date(at).toISOString()]));
    const first = new Date(Math.min(...taken.map((t) => t.at))).toISOString();
    return this.ingestor.readAndIngest(
      connector,
      taken.map((t) => t.id),
      first,
      (record) => receivedAt.get(record.externalId),
      signal,
    );
  }
}

/** `ZPOPMIN`'s flat reply as ids and scores. */
function pairs(flat: string[]): { id: string; at: number }[] {
  const out: { id: string; at: number }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i] ?? '', at: Number(flat[i + 1]) });
  return out;
}
