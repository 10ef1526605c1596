/**
 * The privacy module's workers: one on the requests queue (exports, source checks, delivery
 * tracking, the sweep) and one per erase queue (batched erasures per system); the sweep's job
 * scheduler; the sweep itself, the safety net that drives again requests whose work was lost;
 * and lifting a rate-limit park of an erase queue.
 */
import { Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Engine } from '../sync/index.js';
import { CallLimiter } from '../queue/call-limiter.js';
import { moveLegacyQueueJobs } from '../queue/legacy-queues.js';
import { jobOptions } from '../queue/job-options.js';
import { engineKeys, jobId, queuePrefix } from '../queue/keys.js';
import { queueParkedFor } from '../queue/park.js';
import { execAll, logRedisTrouble, redisAddress } from '../queue/redis-health.js';
import { audit, encodeDetail, enqueueErasure, readDetail, scheduleEraseFlush, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { Eraser } from './eraser.js';
import type { EraseJobData } from './eraser.js';
import { Exporter, scheduleExport } from './exporter.js';
import type { ExportJobData } from './exporter.js';
import { eraseWorkKeys, privacyQueues } from './keys.js';
import { settleRequest } from './settle.js';
import { SourceCheck } from './source-check.js';
import type { SourceCheckJobData } from './source-check.js';
import type { SourceRequests } from './source-requests.js';
import { retentionSummary } from './retention.js';
import type { Retention } from './retention.js';
import { Tracker } from './tracker.js';
import type { TrackJobData } from './tracker.js';

/** The engine's parts the workers use. */
export type PrivacyEngine = Pick<Engine, 'instance' | 'metrics'>;

/** The workers of one process, and what keeps requests moving. */
export class PrivacyWorkers {
  private readonly workers: Worker[] = [];

  constructor(
    private readonly ctx: PrivacyContext,
    private readonly sources: Pick<SourceRequests, 'requestFromSource'>,
    private readonly retention: Pick<Retention, 'run'>,
  ) {}

  /**
   * Lifts a rate-limit park of the connector's erase queue (an operator's call, beside the
   * engine's `unpark`) and runs the queue at once. Returns how long the park had left (ms).
   */
  async unpark(connector: string): Promise<number> {
    const queue = this.ctx.queues.erase.get(connector);
    if (!queue) return 0;
    const left = await queueParkedFor(queue);
    await queue.removeRateLimitKey();
    await scheduleEraseFlush(this.ctx, connector, 'now');
    return left;
  }

  /** Starts the workers (exports, delivery tracking, one erase queue per system) and the sweep. */
  async start(engine: PrivacyEngine): Promise<void> {
    const { ctx } = this;
    const t = ctx.options.tuning;
    const queues = [ctx.queues.requests, ...ctx.queues.erase.values()];
    await moveLegacyQueueJobs(ctx.redis, ctx.prefix, queues, ctx.logger);
    // A lifted park (see sync/park.ts) reaches the engine's connector instances this process calls.
    const limiter = new CallLimiter(ctx.redis, engineKeys(ctx.prefix), t.limiterMarginMs, async (id) =>
      (await engine.instance(id)).unpark?.(),
    );
    const eraser = new Eraser(ctx, { engine, limiter });
    const exporter = new Exporter(ctx, { engine, limiter });
    const sourceCheck = new SourceCheck(ctx, {
      engine,
      limiter,
      start: (connector, externalId) => this.sources.requestFromSource(connector, { externalId }),
    });
    const tracker = new Tracker(ctx);
    const base = { connection: ctx.redis };
    this.add(
      new Worker(
        privacyQueues.requests,
        async (job: Job, token?: string, signal?: AbortSignal) => {
          if (job.name === 'export') return exporter.process(job as Job<ExportJobData>, signal, token);
          if (job.name === 'source-check') return sourceCheck.process(job as Job<SourceCheckJobData>, signal);
          if (job.name === 'track') return tracker.process(job as Job<TrackJobData>);
          if (job.name === 'sweep') return this.sweep();
          if (job.name === 'retention') return retentionSummary(await this.retention.run({ dryRun: false }));
          return null;
        },
        { ...base, prefix: queuePrefix(ctx.prefix, privacyQueues.requests), concurrency: 4 },
      ),
    );
    for (const connector of ctx.queues.erase.keys()) {
      // As many batches at once as the system takes calls at once: one batch's bookkeeping in the
      // store overlaps the next one's calls (the connector's pacing keeps them within its limits).
      const limits = ctx.connectors.get(connector)?.limits;
      const concurrency = limits?.concurrency ?? 1;
      // A limiter as on the push queues (a run makes at least one call): without one, BullMQ
      // ignores the queue's manual rate limit, and a parked run would be taken again at once.
      const limiter = { max: limits?.requestsPerWindow ?? 100, duration: limits?.windowMs ?? 10_000 };
      this.add(
        new Worker<EraseJobData>(privacyQueues.erase(connector), (job, _token, signal) => eraser.process(job, signal), {
          ...base,
          prefix: queuePrefix(ctx.prefix, privacyQueues.erase(connector)),
          concurrency,
          limiter,
          // A parked queue asks again this often, so a lifted park is noticed (see `unpark`).
          maximumRateLimitDelay: t.parkRecheckMs,
        }),
      );
    }
    await this.restoreSchedulers();
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    ctx.logger.info({ erase: [...ctx.queues.erase.keys()] }, 'privacy workers started');
  }

  /**
   * (Re-)creates the job schedulers of the sweep and of the retention rules (none without
   * rules): at start, and after Redis came back empty. Idempotent.
   */
  async restoreSchedulers(): Promise<void> {
    const { requests } = this.ctx.queues;
    const { retention, tuning } = this.ctx.options;
    await requests.upsertJobScheduler('dsr-sweep', { every: tuning.sweepEveryMs }, { name: 'sweep', opts: jobOptions.sweep() });
    if (retention.rules.length === 0) await requests.removeJobScheduler('retention');
    else await requests.upsertJobScheduler('retention', { every: retention.everyMs }, { name: 'retention', opts: jobOptions.sweep() });
  }

  /**
   * The safety net: requests whose work was lost (Redis restarted, a worker died between two
   * steps) are driven again. Every step is idempotent, so driving one twice does no harm.
   */
  async sweep(): Promise<{ open: number; redriven: number }> {
    const { ctx } = this;
    const open = [...(await ctx.store.listDsr({ status: 'received' })), ...(await ctx.store.listDsr({ status: 'in_progress' }))];
    const staleMs = 60_000;
    const now = ctx.now().getTime();
    let redriven = 0;
    for (const request of open) {
      const stale = request.status === 'received' && now - Date.parse(request.receivedAt) > staleMs;
      if (request.kind === 'erase') {
        if (stale) await ctx.store.suppress(request.identityHashes, `erasure ${request.id}`);
        const lost: string[] = [];
        for (const s of request.systems) {
          if ((s.status !== 'pending' && s.status !== 'in_progress') || !ctx.queues.erase.has(s.connector)) continue;
          if (!(await this.isQueued(s.connector, request.id))) lost.push(s.connector);
        }
        if (lost.length > 0) {
          await enqueueErasure(ctx, request.id, lost);
          redriven++;
        }
        await withLock(ctx, request.id, () => settleRequest(ctx, request.id));
      } else if (request.kind === 'export') {
        const job = await ctx.queues.requests.getJob(jobId('export', request.id, 0));
        const state = job ? await job.getState() : 'missing';
        if (state === 'missing' || state === 'failed' || state === 'completed') {
          await scheduleExport(ctx, request.id, Math.floor(now / ctx.options.tuning.sweepEveryMs));
          redriven++;
        }
      } else if (stale) {
        // The change was never applied (the values are not kept): the person has to ask again.
        await withLock(ctx, request.id, async () => {
          const detail = readDetail(request);
          await ctx.store.updateDsr(request.id, {
            status: 'failed',
            detail: encodeDetail({ ...detail, failure: 'interrupted before the change was applied; make the request again' }),
          });
          await audit(ctx, 'dsr.failed', request, { reason: 'interrupted' });
        });
      } else if (request.status === 'in_progress') {
        await ctx.queues.requests.add('track', { dsrId: request.id, check: 0 } satisfies TrackJobData, {
          ...jobOptions.trackRedrive(),
          jobId: jobId('track', request.id, 'sweep', Math.floor(now / ctx.options.tuning.sweepEveryMs)),
        });
      }
    }
    return { open: open.length, redriven };
  }

  /** Closes the workers of this process (the service closes the queues after them). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private add(worker: Worker): void {
    worker.on('error', (err) =>
      logRedisTrouble(this.ctx.logger, { queue: worker.name, err }, `worker error (redis at ${redisAddress(this.ctx.redis)})`),
    );
    worker.on('failed', (job: Job | undefined, err: Error) =>
      this.ctx.logger.warn({ queue: worker.name, job: job?.name, attempts: job?.attemptsMade, err }, 'privacy job failed'),
    );
    this.workers.push(worker);
  }

  private async isQueued(connector: string, dsrId: string): Promise<boolean> {
    const keys = eraseWorkKeys(this.ctx.prefix);
    const scores = await execAll(
      this.ctx.redis
        .pipeline()
        .zscore(keys.dirty(connector), dsrId)
        .zscore(keys.inflight(connector), dsrId)
        .zscore(keys.retry(connector), dsrId),
    );
    return (scores ?? []).some(([, score]) => score !== null);
  }
}
