/**
 * A BullMQ worker that starts jobs strictly in queue order while running many at once.
 *
 * BullMQ's own concurrency fetches jobs on several connections and may start them out of
 * order. Ingest must see the records of one source record in the order the source sent them
 * (each is compared with the state the previous one left), so its worker fetches jobs one by
 * one on a single loop (BullMQ's manual processing), hands each to the processor at once, and
 * completes it when the processor resolves. Locks are extended while a job runs; stalled jobs
 * of a dead process are picked up by the stalled checker as usual.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import type { Job, WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';

export class OrderedWorker<Data> {
  readonly worker: Worker<Data>;
  private readonly token = randomUUID();
  private readonly running = new Map<Job<Data>, Promise<void>>();
  private loop: Promise<void> | null = null;
  private stopping = false;
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(
    name: string,
    private readonly processor: (job: Job<Data>) => Promise<unknown>,
    private readonly options: Omit<WorkerOptions, 'autorun' | 'concurrency'> & { maxInFlight: number; lockDuration: number },
    private readonly logger: Logger,
  ) {
    // A short block, so a closing worker stops fetching within a second.
    this.worker = new Worker<Data>(name, null, { drainDelay: 1, ...options, autorun: false });
  }

  async start(): Promise<void> {
    await this.worker.waitUntilReady();
    await this.worker.startStalledCheckTimer();
    this.renewTimer = setInterval(() => void this.renewLocks(), Math.max(100, Math.floor(this.options.lockDuration / 2)));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.running.size >= this.options.maxInFlight) {
        await Promise.race(this.running.values());
        continue;
      }
      let job: Job<Data> | undefined;
      try {
        job = await this.worker.getNextJob(this.token, { block: true });
      } catch (err) {
        if (this.stopping) break;
        this.logger.warn({ err: err instanceof Error ? err.message : String(err), queue: this.worker.name }, 'fetching a job failed');
        await sleep(1000);
        continue;
      }
      if (!job) continue;
      const current = job;
      const done = this.handle(current).finally(() => this.running.delete(current));
      this.running.set(current, done);
    }
  }

  private async handle(job: Job<Data>): Promise<void> {
    try {
      const result = await this.processor(job);
      await job.moveToCompleted(result, this.token, false);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      try {
        await job.moveToFailed(error, this.token, false);
      } catch (moveErr) {
        this.logger.warn({ err: moveErr instanceof Error ? moveErr.message : String(moveErr), jobId: job.id }, 'could not fail job');
      }
      this.worker.emit('failed', job, error, 'active');
    }
  }

  private async renewLocks(): Promise<void> {
    for (const job of this.running.keys()) {
      try {
        await job.extendLock(this.token, this.options.lockDuration);
      } catch {
        // The stalled checker decides what happens to a job whose lock is lost.
      }
    }
  }

  /** Stops fetching, lets running jobs finish, then closes the worker. */
  async close(): Promise<void> {
    this.stopping = true;
    // The loop ends after its current fetch; a job fetched meanwhile still runs to the end.
    await this.loop;
    await Promise.allSettled(this.running.values());
    if (this.renewTimer) clearInterval(this.renewTimer);
    await this.worker.close(true);
  }
}
