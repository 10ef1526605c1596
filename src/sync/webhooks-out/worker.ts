/**
 * The delivery worker of outbound webhooks, run by processes with the `push` role. Per endpoint
 * it keeps up to `concurrency` attempts in flight: it claims due rows from the store under a
 * lease (two `timeoutMs` + `leaseMarginMs`: rows are claimed a round ahead), sends each (`attempt.ts`) and records the outcomes in
 * batches. Everything lives in the store: a worker that dies leaves its claimed rows to any other
 * after the lease, and Redis is not involved at all. Order is not promised (the spec does not).
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import type { OutboundWebhookEndpoint } from '../../connector/define.js';
import type { ClaimedWebhookDelivery, RecordedWebhookAttempts, WebhookAttempt, WebhooksOutRepository } from '../../store/types.js';
import { attemptDelivery, attemptOutcome, WebhookSigner } from './attempt.js';
import type { WebhooksOutMetrics } from './metrics.js';

const ms = z.number().int().nonnegative();
const count = z.number().int().positive();

export const WebhooksOutTuning = z.object({
  /** Attempts in flight at once per endpoint. @defaultValue 8 */
  concurrency: count.default(8),
  /** How often an idle endpoint is asked for due messages (other processes enqueue, retries fall due). @defaultValue 1_000 */
  pollMs: count.default(1_000),
  /** Added to twice the endpoint's timeout for a claim's lease: a worker that died frees its rows after this. @defaultValue 30_000 */
  leaseMarginMs: ms.default(30_000),
  /** How long delivered rows are kept (their status reads `delivered` meanwhile, `unknown` after). @defaultValue 7 days */
  retentionMs: count.default(7 * 24 * 3_600_000),
  /** How often delivered rows past their retention are deleted. @defaultValue 1 hour */
  purgeEveryMs: count.default(3_600_000),
});
export type WebhooksOutTuning = z.infer<typeof WebhooksOutTuning>;
export type WebhooksOutTuningInput = z.input<typeof WebhooksOutTuning>;

/** An endpoint to deliver to: the connector instance id and what its definition declared. */
export interface WebhookEndpointBinding {
  id: string;
  endpoint: OutboundWebhookEndpoint;
}

export interface DeliveryWorkerOptions {
  store: WebhooksOutRepository;
  endpoints: readonly WebhookEndpointBinding[];
  metrics: WebhooksOutMetrics;
  logger: Logger;
  tuning?: WebhooksOutTuningInput;
}

export class WebhookDeliveryWorker {
  readonly #store: WebhooksOutRepository;
  readonly #logger: Logger;
  readonly #metrics: WebhooksOutMetrics;
  readonly #tuning: WebhooksOutTuning;
  readonly #lanes: EndpointLane[];
  readonly #writer: OutcomeWriter;
  #purge: NodeJS.Timeout | null = null;
  #stopping: Promise<void> | null = null;

  constructor(options: DeliveryWorkerOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#tuning = WebhooksOutTuning.parse(options.tuning ?? {});
    this.#writer = new OutcomeWriter(this.#store, (recorded) => this.#recorded(recorded));
    this.#lanes = options.endpoints.map(
      (binding) => new EndpointLane(binding, this.#store, this.#writer, this.#tuning, this.#logger, this.#metrics),
    );
  }

  /** Registers the endpoints in the store (state rows), then starts delivering. */
  async start(): Promise<void> {
    for (const lane of this.#lanes) await this.#store.registerWebhookEndpoint(lane.id, lane.url);
    for (const lane of this.#lanes) lane.start();
    this.#purge = setInterval(() => void this.#purgeDelivered(), this.#tuning.purgeEveryMs);
    this.#purge.unref();
    this.#logger.info({ endpoints: this.#lanes.map((lane) => lane.id) }, 'outbound webhook delivery started');
  }

  /** Messages were enqueued for `endpoint`: look for them now rather than at the next poll. */
  nudge(endpoint: string): void {
    this.#lanes.find((lane) => lane.id === endpoint)?.wake();
  }

  /** Claims nothing more, and waits for the attempts in flight to end and be recorded. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#purge) clearInterval(this.#purge);
      await Promise.all(this.#lanes.map((lane) => lane.stop()));
      await this.#writer.drain();
    })();
    return this.#stopping;
  }

  #recorded(recorded: RecordedWebhookAttempts): void {
    const now = Date.now();
    for (const d of recorded.delivered) {
      this.#metrics.delivered.inc({ endpoint: d.endpoint });
      this.#metrics.latency.observe({ endpoint: d.endpoint }, Math.max(0, now - Date.parse(d.createdAt)) / 1000);
    }
    for (const d of recorded.dead) this.#metrics.dead.inc({ endpoint: d.endpoint });
    for (const d of recorded.disabled) {
      this.#lanes.find((lane) => lane.id === d.endpoint)?.handBack();
      this.#logger.warn(
        { endpoint: d.endpoint, state: d.state },
        'outbound webhook endpoint disabled: nothing more is sent until it is enabled',
      );
    }
  }

  async #purgeDelivered(): Promise<void> {
    try {
      const before = new Date(Date.now() - this.#tuning.retentionMs).toISOString();
      const purged = await this.#store.purgeDeliveredWebhooks(before);
      if (purged > 0) this.#logger.info({ purged }, 'delivered outbound webhooks past their retention deleted');
    } catch (err) {
      this.#logger.warn({ err }, 'purging delivered outbound webhooks failed');
    }
  }
}

/** One endpoint's loop: keeps its slots busy with due rows claimed a round ahead, sleeps when none are due. */
class EndpointLane {
  readonly id: string;
  readonly url: string;
  readonly #endpoint: OutboundWebhookEndpoint;
  readonly #signer: WebhookSigner;
  readonly #inflight = new Set<Promise<void>>();
  /** Rows claimed ahead of the free slots. */
  readonly #ready: ClaimedWebhookDelivery[] = [];
  #loop: Promise<void> | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  /** Set when woken while not asleep, so a wake between a claim and the sleep is not lost. */
  #woken = false;
  /** The earliest retry this lane scheduled itself: it looks again then rather than at the next poll. */
  #retryAt = Number.POSITIVE_INFINITY;

  constructor(
    binding: WebhookEndpointBinding,
    private readonly store: WebhooksOutRepository,
    private readonly writer: OutcomeWriter,
    private readonly tuning: WebhooksOutTuning,
    private readonly logger: Logger,
    private readonly metrics: WebhooksOutMetrics,
  ) {
    this.id = binding.id;
    this.url = binding.endpoint.url;
    this.#endpoint = binding.endpoint;
    this.#signer = new WebhookSigner(binding.endpoint.secrets);
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  wake(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    await this.#loop;
    await Promise.all(this.#inflight);
  }

  async #run(): Promise<void> {
    const concurrency = this.tuning.concurrency;
    // A prefetched row may wait for one round of attempts before its own: two timeouts.
    const leaseMs = 2 * this.#endpoint.timeoutMs + this.tuning.leaseMarginMs;
    while (!this.#stopped) {
      this.#woken = false;
      let claimed = 0;
      // Claims up to two rounds ahead, and again once less than a round is left.
      if (this.#ready.length + this.#inflight.size < concurrency) {
        try {
          const rows = await this.store.claimWebhookDeliveries(
            this.id,
            2 * concurrency - this.#ready.length - this.#inflight.size,
            leaseMs,
          );
          this.#ready.push(...rows);
          claimed = rows.length;
        } catch (err) {
          this.logger.warn({ err, endpoint: this.id }, 'claiming outbound webhooks failed; trying again');
        }
      }
      if (this.#stopped) break;
      while (this.#inflight.size < concurrency) {
        const next = this.#ready.shift();
        if (!next) break;
        this.#launch(next);
      }
      // More may be due: claim again once there is room.
      if (claimed > 0 && this.#ready.length + this.#inflight.size < concurrency) continue;
      if (this.#woken) continue;
      const untilRetry = this.#retryAt - Date.now();
      await this.#sleep(Math.max(0, Math.min(this.tuning.pollMs, untilRetry)));
      if (Date.now() >= this.#retryAt) this.#retryAt = Number.POSITIVE_INFINITY;
    }
    await this.#release();
  }

  /** The endpoint was disabled: what was claimed ahead goes back, due at once when it is enabled again. */
  handBack(): void {
    void this.#release();
  }

  /** Hands the prefetched rows back unsent (stopping, or the endpoint was disabled). */
  async #release(): Promise<void> {
    const unsent = this.#ready.splice(0);
    try {
      await this.store.releaseWebhookClaims(
        this.id,
        unsent.map((row) => ({ messageId: row.messageId, claimId: row.claimId })),
      );
    } catch (err) {
      // They come back after their lease.
      this.logger.warn({ err, endpoint: this.id }, 'handing back claimed outbound webhooks failed');
    }
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, delayMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #launch(delivery: ClaimedWebhookDelivery): void {
    const attempt = this.#deliver(delivery).finally(() => {
      this.#inflight.delete(attempt);
      this.wake();
    });
    this.#inflight.add(attempt);
  }

  async #deliver(delivery: ClaimedWebhookDelivery): Promise<void> {
    const startedAt = new Date().toISOString();
    const result = await attemptDelivery(this.#endpoint, this.#signer, delivery);
    const outcome = attemptOutcome(result, delivery.attempts, this.#endpoint.retryScheduleMs);
    if (!result.ok) {
      this.metrics.failedAttempts.inc({ endpoint: this.id });
      this.logger.debug(
        { endpoint: this.id, messageId: delivery.messageId, status: result.status, outcome: outcome.kind },
        'webhook attempt failed',
      );
    }
    if (outcome.kind === 'retry') this.#retryAt = Math.min(this.#retryAt, Date.parse(outcome.nextAttemptAt));
    try {
      await this.writer.record({ endpoint: this.id, messageId: delivery.messageId, claimId: delivery.claimId, startedAt, outcome });
    } catch (err) {
      // The row keeps its claim: after the lease it is sent again (the receiver dedupes on webhook-id).
      this.logger.warn({ err, endpoint: this.id, messageId: delivery.messageId }, 'recording an outbound webhook attempt failed');
    }
  }
}

/** Records attempts' outcomes, all that arrived meanwhile in one transaction. */
class OutcomeWriter {
  #queue: { attempt: WebhookAttempt; done: (error?: unknown) => void }[] = [];
  #flushing: Promise<void> | null = null;

  constructor(
    private readonly store: WebhooksOutRepository,
    private readonly recorded: (recorded: RecordedWebhookAttempts) => void,
  ) {}

  record(attempt: WebhookAttempt): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ attempt, done: (error) => (error === undefined ? resolve() : reject(error)) });
      this.#kick();
    });
  }

  /** Resolves once everything recorded so far is written. */
  async drain(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #flush(): Promise<void> {
    // Outcomes of the same tick share the transaction.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const batch = this.#queue.splice(0);
    try {
      this.recorded(await this.store.recordWebhookAttempts(batch.map((item) => item.attempt)));
      for (const item of batch) item.done();
    } catch (err) {
      for (const item of batch) item.done(err);
    }
  }
}
