/**
 * Scheduled incremental pulls, the safety net for lost webhooks. Each page is ingested (and
 * durable) before its cursor is saved with `store.setCursor`, so a crash resumes where it
 * stopped. One pull per connector runs at a time, whatever the number of worker processes
 * (a Redis lock). The look-back window belongs to the connector, which alone knows what its
 * cursor means: an incremental pull starts that far behind the saved cursor (e.g. the memory
 * connector's `lookBackMs`), and re-reading is harmless because a record equal to its shadow
 * changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { RateLimitedError } from '../../connector/errors.js';
import { chunks } from '../../connector/kit/chunks.js';
import { redactContacts } from '../../log/logger.js';
import type { SyncConnector } from '../bind.js';
import type { EngineContext } from '../context.js';
import { callExternal } from '../../queue/external-call.js';
import type { Ingestor } from '../inbound/ingest.js';
import { errorSummary } from '../inbound/ingest.js';
import { LuaScript } from '../../queue/lua.js';
import type { ExternalRecord } from '../../connector/define.js';
import type { RunTrigger } from '../../store/types.js';
import type { IngestReport } from '../inbound/assess.js';
import { changePaths, startRun } from '../runs.js';
import type { RunRecorder } from '../runs.js';
import { linkRecords } from '../inbound/link.js';
import { scheduleFlush } from '../context.js';
import {
  firstPullLinksOnly,
  firstPullPending,
  holdsCreates,
  markFirstPullDone,
  markFirstPullStarted,
  waitsForFirstPull,
} from '../initial-sync.js';

export interface PullJobData {
  connector: string;
  /**
   * Read everything from the start (`concord sync --full`): the saved cursor is ignored until
   * the first page is saved and replaced page by page, so a retry resumes where the full pull
   * stopped (`resumeFromSaved`).
   */
  full?: boolean;
  /** Asked for by an operator (`pullNow`): waits for a pull already running instead of being skipped. */
  requested?: boolean;
  /** What asked for the pull; a scheduled pull's job has none (`schedule`). */
  trigger?: RunTrigger;
  /** The request id of its run (the HTTP request's when one asked for it); generated when absent. */
  requestId?: string;
  /** The run's kind. @defaultValue `pull` */
  kind?: 'pull' | 'full-pull';
  /**
   * Set on a full pull once its first page saved the cursor: a later try (a retry, or the same
   * attempt re-queued by a 429 parking the queue) resumes from that cursor instead of page 1.
   */
  resumeFromSaved?: boolean;
}

export interface PullResult {
  pages: number;
  records: number;
  skipped?: 'running';
}

/** What a running pull job reports after each page (`job.progress`). */
export interface PullProgressData {
  pages: number;
  records: number;
  /** For a full pull: how many records of the system the hub knows, an estimate of what it reads. */
  expected?: number;
}

/** How long an operator's pull waits before it looks again at a pull already running. */
const BUSY_RECHECK_MS = 1_000;

const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

const LOCK_MS = 30_000;

/** The outcome of the last pull of one connector instance, for operators (connector status). */
export interface LastPull {
  finishedAt: string;
  pages: number;
  records: number;
  /** `null` when the pull read everything; else the error (name, code and message; no record data). */
  error: { name: string; code?: string; message: string } | null;
  /** When the last pull that read everything ended (this one, or an earlier one when this one failed); absent before one did. */
  succeededAt?: string;
}

/** What a failed pull's last-pull record keeps of its error: no e-mail address or phone number (a system's message may quote one), 300 characters at most. */
export function lastPullError(err: unknown): NonNullable<LastPull['error']> {
  const { name, code, message } = errorSummary(err);
  return { name, ...(code ? { code } : {}), message: redactContacts(message).slice(0, 300) };
}

/** Reads the outcome of the last pull of `instance`, or `null` before the first one. */
export async function readLastPull(ctx: Pick<EngineContext, 'redis' | 'keys'>, instance: string): Promise<LastPull | null> {
  const raw = await ctx.redis.get(ctx.keys.lastPull(instance));
  return raw === null ? null : (JSON.parse(raw) as LastPull);
}

export class Puller {
  constructor(
    private readonly ctx: EngineContext,
    private readonly ingestor: Ingestor,
  ) {}

  async process(job: Job<PullJobData>, signal?: AbortSignal, jobToken?: string): Promise<PullResult> {
    const connector = this.ctx.connectors.get(job.data.connector);
    if (!connector) return { pages: 0, records: 0 };
    const lockKey = this.ctx.keys.pullLock(connector.id);
    const token = randomUUID();
    const locked = await this.ctx.redis.set(lockKey, token, 'PX', LOCK_MS, 'NX');
    if (locked !== 'OK') {
      // A scheduled pull is covered by the one running; an operator's (a full one above all) is not.
      if (!job.data.requested || jobToken === undefined) return { pages: 0, records: 0, skipped: 'running' };
      await job.moveToDelayed(Date.now() + BUSY_RECHECK_MS, jobToken);
      throw new DelayedError();
    }
    const renew = setInterval(() => {
      this.ctx.redis.pexpire(lockKey, LOCK_MS).catch(() => undefined);
    }, LOCK_MS / 3);
    const progress = { pages: 0, records: 0 };
    const run = await startRun(
      { store: this.ctx.store, logger: this.ctx.logger, leaseMs: this.ctx.tuning.runLeaseMs },
      {
        connector: connector.id,
        kind: job.data.kind ?? 'pull',
        trigger: job.data.trigger ?? 'schedule',
        ...(job.data.requestId ? { requestId: job.data.requestId } : {}),
      },
    );
    try {
      const full = job.data.full === true;
      const expected = full ? await this.ctx.store.countKnownRecords(connector.id) : undefined;
      const report = async (): Promise<void> => {
        const data: PullProgressData = { ...progress, ...(expected === undefined ? {} : { expected }) };
        await job.updateProgress({ ...data });
      };
      await report();
      // A full pull reads from the start until its first page is saved; after that, any later try
      // (a retry, or a 429 re-queueing it without spending an attempt) resumes from the cursor.
      const fromStart = full && job.data.resumeFromSaved !== true;
      const saved = fromStart ? async (): Promise<void> => job.updateData({ ...job.data, resumeFromSaved: true }) : undefined;
      const result = await this.run(connector, progress, run, { fromStart, report, ...(saved ? { saved } : {}) }, signal);
      await this.recordLastPull(connector.id, { ...progress, error: null });
      await run.finish();
      return result;
    } catch (err) {
      await run.finish(err);
      await this.recordLastPull(connector.id, { ...progress, error: lastPullError(err) });
      if (err instanceof RateLimitedError) {
        await this.ctx.queues.pull.get(connector.id)?.rateLimit(Math.max(1, err.retryAfterMs));
        throw Worker.RateLimitError();
      }
      throw err;
    } finally {
      clearInterval(renew);
      await RELEASE.run(this.ctx.redis, [lockKey], [token]);
    }
  }

  private async recordLastPull(instance: string, outcome: Omit<LastPull, 'finishedAt'>): Promise<void> {
    const finishedAt = new Date().toISOString();
    // A failed pull keeps the time of the last one that read everything: the pull lag counts from it.
    const succeededAt = outcome.error === null ? finishedAt : (await readLastPull(this.ctx, instance).catch(() => null))?.succeededAt;
    const last: LastPull = { finishedAt, ...outcome, ...(succeededAt === undefined ? {} : { succeededAt }) };
    await this.ctx.redis.set(this.ctx.keys.lastPull(instance), JSON.stringify(last)).catch((err: unknown) => {
      this.ctx.logger.warn({ err, connector: instance }, 'could not record the last pull');
    });
  }

  private async run(
    connector: SyncConnector,
    progress: { pages: number; records: number },
    run: RunRecorder,
    how: { fromStart: boolean; report: () => Promise<void>; saved?: () => Promise<void> },
    signal?: AbortSignal,
  ): Promise<PullResult> {
    const instance = await this.ctx.instance(connector.id);
    if (!instance.pull) return { pages: 0, records: 0 };
    const saved = how.fromStart ? null : await this.ctx.store.getCursor(connector.id);
    // The first pull of an instance whose pushes wait for it, or that only links (`initial-sync.ts`).
    const linksOnly = firstPullLinksOnly(connector);
    const holds = waitsForFirstPull(connector) || holdsCreates(connector);
    const first = (linksOnly || holds) && (await firstPullPending(this.ctx.store, connector.id));
    if (first && saved === null) await markFirstPullStarted(this.ctx.store, connector.id);
    const abort = signal ?? new AbortController().signal;
    const iterator = instance.pull(saved ?? undefined, abort)[Symbol.asyncIterator]();
    const callCtx = { limiter: this.ctx.limiter, metrics: this.ctx.metrics, retries: 0, retryMinMs: 0 };
    let pages = 0;
    let records = 0;
    for (;;) {
      // The page shows the system as it was at some moment of this call, perhaps before one of
      // our writes that ends while the page is read or screened: it counts as received when the
      // read began, so ingest compares it with the values such a write replaced (see
      // `assessRecord`), not with the shadow that write left.
      const readAt = new Date().toISOString();
      // A page is one request; a failed one is retried by the job, from the saved cursor.
      const next = await callExternal(callCtx, connector, 'pull', () => iterator.next(), { signal: abort });
      if (next.done) break;
      const page = next.value;
      const kept = await this.ingestor.screen(connector, page.records);
      run.counts.read += page.records.length;
      run.counts.skipped += page.records.length - kept.length;
      if (kept.length > 0 && first && linksOnly) {
        // A push-only first pull links the records of people the hub knows and ingests nothing.
        await linkRecords(this.ctx, connector, kept, readAt);
        run.counts.skipped += kept.length;
      } else if (kept.length > 0) {
        // Records that carried changes to the store (applied, or lost the merge): the others are skipped.
        const reported = new Set<ExternalRecord>();
        const report = (record: ExternalRecord, event: IngestReport): void => {
          reported.add(record);
          run.counts.changed++;
          if (!event.applied) return;
          run.counts.written++;
          run.change(event.profileId, changePaths(event.changes), { ref: record.externalId });
        };
        // A slice at a time, as many records as the ingest batches in flight take: what a
        // record's ingest holds is bounded by that, not by the page (a Bulk API page is 10,000).
        const t = this.ctx.tuning;
        for (const slice of chunks(kept, t.ingestBatchSize * t.ingestBatchConcurrency)) {
          const outcomes = await this.ingestor.ingest(connector, slice, readAt, undefined, report);
          outcomes.forEach((outcome, i) => {
            const record = slice[i];
            if (!record || reported.has(record)) return;
            if (outcome === 'no_identity') {
              run.failRow({
                ref: record.externalId,
                profileId: null,
                code: 'no_identity',
                message: 'the record carries no usable identity',
              });
            } else run.counts.skipped++;
          });
        }
      }
      await this.ctx.store.setCursor(connector.id, page.cursor);
      if (pages === 0) await how.saved?.();
      pages++;
      records += page.records.length;
      progress.pages = pages;
      progress.records = records;
      await how.report();
    }
    if (first) {
      await markFirstPullDone(this.ctx.store, connector.id);
      // What waited for the first pull goes now: everything (pull-only), or the creates held (both, push-only).
      await this.ctx.work.releaseHeld(connector.id);
      if (holds) await scheduleFlush(this.ctx, connector.id, 'now');
      this.ctx.logger.info({ connector: connector.id, initialSync: connector.initialSync }, 'first full pull finished');
    }
    return { pages, records };
  }
}
