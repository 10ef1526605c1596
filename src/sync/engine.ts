/**
 * The sync engine: BullMQ queues and workers for ingest, outbox relay, push and pull.
 *
 *   webhook / pull page -> [ingest] -> store.applyPatches (merge + shadow + outbox, one txn)
 *   [relay]  outbox rows -> per-connector dirty set -> debounced flush job
 *   [push.<connector>]  up to maxBatch dirty profiles -> one batch call -> shadow | retry | dead letter
 *   [pull.<connector>]  job scheduler -> connector.pull(cursor) -> ingest, cursor saved per page
 *
 * The engine knows connectors only through `SyncConnector`; it holds no state of its own
 * outside Redis and the store, so any number of worker processes can share one Redis and one
 * database. Every job is idempotent (stable job ids, effects keyed by profile).
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import type { JobsOptions } from 'bullmq';
import { closeRedisClient, createRedisClient, duplicateRedisClient } from '../queue/redis-client.js';
import type { RedisClient } from '../queue/redis-client.js';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { ExternalRecord, RawWebhook } from '../connector/define.js';
import { backoffDelay } from '../queue/backoff.js';
import type { SyncConnector, SyncInstance } from './bind.js';
import { CallLimiter } from '../queue/call-limiter.js';
import { ChangeCounts } from '../queue/change-counts.js';
import type { MinuteCounts } from '../queue/change-counts.js';
import type { EngineContext, RecordScreen } from './context.js';
import { DeadLetterView } from './outbound/dead-letter.js';
import { kickRelay, scheduleFlush } from './context.js';
import { Ingestor } from './inbound/ingest.js';
import type { IngestJobData } from './inbound/ingest.js';
import { jobOptions } from '../queue/job-options.js';
import { moveLegacyConnectorKeys } from '../queue/legacy-keys.js';
import { moveLegacyQueueJobs } from '../queue/legacy-queues.js';
import { assertInstanceId, connectorTag, engineKeys, hashTagPrefix, jobId, queueNames, queuePrefix } from '../queue/keys.js';
import { createSyncMetrics } from './metrics.js';
import type { SyncMetrics } from './metrics.js';
import { EngineRoles, EngineTuning } from './options.js';
import type { EngineOptions } from './options.js';
import { Puller, readLastPull } from './pull/pull.js';
import { knownRecordsOf } from './known-records.js';
import type { LastPull, PullJobData, PullProgressData, PullResult } from './pull/pull.js';
import { Pusher } from './outbound/push.js';
import type { FlushJobData } from './outbound/push.js';
import { Relay } from './outbound/relay.js';
import { ingestJobOptions, receiveWebhook } from './inbound/webhooks.js';
import type { UnhandledEventListener, WebhookResult } from './inbound/webhooks.js';
import { OrderedWorker } from './inbound/ordered-worker.js';
import { ChangedReader, type ChangedReadJob } from './inbound/changed-reads.js';
import { liftPark } from './park.js';
import { runOrigin } from './runs.js';
import { firstPullPending, holdsCreates, waitsForFirstPull } from './initial-sync.js';
import type { RunTrigger } from '../store/types.js';
import type { UnparkResult } from './park.js';
import {
  assertRedisReady,
  logRedisTrouble,
  redisAddress,
  redisReady,
  RedisUnavailableError,
  RedisWatch,
  withRedisDeadline,
} from '../queue/redis-health.js';
import type { RedisResetEvent } from '../queue/redis-health.js';
import { WorkSets } from '../queue/work-sets.js';
import { WriteLog } from './inbound/write-log.js';
import { silentLogger } from '../log/logger.js';
import { storeOutboundWebhooks } from './webhooks-out/messages.js';
import { createWebhooksOutMetrics } from './webhooks-out/metrics.js';
import { WebhookDeliveryWorker } from './webhooks-out/worker.js';
import type { WebhookEndpointBinding } from './webhooks-out/worker.js';
import type { WebhooksOutMetrics } from './webhooks-out/metrics.js';

export interface QueueStatus {
  queue: string;
  wait: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface ConnectorStatus {
  connector: string;
  dirty: number;
  inflight: number;
  retry: number;
  dead: number;
  /**
   * Profiles whose record a push would create, held until the instance's first full pull
   * finished (`initialSync` both or push-only). Not work `idle` waits for: that pull's is.
   */
  held: number;
}

export interface EngineStatus {
  queues: QueueStatus[];
  connectors: ConnectorStatus[];
}

/** One connector as the engine keeps it in Redis, for operators (the admin API's connector status). */
export interface ConnectorReport {
  connector: string;
  /** Depths of the connector's push and pull queues. */
  queues: QueueStatus[];
  /** Its work sets (profiles waiting, in flight, backing off, dead-lettered); null when it does not push. */
  profiles: ConnectorStatus | null;
  /** The API budget towards the system in the current window, and how long a 429 block still runs. */
  budget: { max: number; windowMs: number; used: number; remaining: number; blockedForMs: number };
  /** When its last pull ended, what it read, its error; null before the first. */
  lastPull: LastPull | null;
}

/** A pull job as `pullProgress` reports it. */
export interface PullJobView {
  jobId: string;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';
  full: boolean;
  /** Pages and records read so far (and, for a full pull, the records the hub expects). */
  progress: PullProgressData;
  /** When completed: what it read, or that it was skipped. */
  result: PullResult | null;
  /** When failed for good: the error message. */
  error: string | null;
}

export interface Engine {
  /** The key prefix (with its hash tag) of the engine's keys; each queue's is `queuePrefix(prefix, name)`. */
  readonly prefix: string;
  readonly metrics: SyncMetrics;
  readonly deadLetters: DeadLetterView;
  /** Starts the workers of the given roles (all by default) and the job schedulers. */
  start(roles?: Partial<EngineRoles>): Promise<void>;
  /** Lets in-flight jobs finish, then closes workers, queues, connector instances and Redis. */
  close(): Promise<void>;
  /** Verifies and parses a webhook, and enqueues its events for ingest. */
  receiveWebhook(connector: string, raw: RawWebhook, onUnhandled?: UnhandledEventListener): Promise<WebhookResult>;
  /** Enqueues records reported by a connector (or a hub-internal source with its own connector id). */
  ingest(connector: string, records: ExternalRecord[], options?: { receivedAt?: string; origin?: string }): Promise<void>;
  /**
   * Enqueues a pull of the connector now (besides its schedule), on its pull queue: the same
   * workers, queue limiter and call budget as scheduled pulls. It waits for a pull already
   * running rather than being skipped. `full` reads everything from the start (the saved cursor
   * is ignored, then replaced page by page); echoes and erased people are dropped by ingest as
   * always. Its run's trigger and request id default to the HTTP request being served (`api`
   * and its id), else `manual` and a new id. Returns the BullMQ job id (see `pullProgress`).
   */
  pullNow(connector: string, options?: { full?: boolean; trigger?: RunTrigger; requestId?: string }): Promise<string>;
  /** Where a pull enqueued by `pullNow` stands; null once the job is gone (kept an hour after it ends). */
  pullProgress(connector: string, jobId: string): Promise<PullJobView | null>;
  /**
   * Pushes a profile again, whole, to every connector that pushes (an operator's `concord
   * push`): it is marked dirty with a mark that makes its next push send every mapped field, not
   * only what differs from the shadow, and is delivered by the normal push workers. Returns the
   * connectors it was queued for.
   */
  pushAgain(profileId: string): Promise<string[]>;
  /** The connectors a `pushAgain` of the profile has not finished with yet (delivered, dead-lettered or nothing to send). */
  pushAgainPending(profileId: string): Promise<string[]>;
  /**
   * The connectors that would not push the profile yet: `initialSync: pull-only` instances still
   * waiting for their first full pull, and instances that hold creates until it (`holdsCreates`)
   * where the profile has no record linked. A `pushAgain` queues the profile there too, but it
   * goes only after that pull.
   */
  pushHeld(profileId: string): Promise<string[]>;
  /** How many workers (of any process) serve the connector's push or pull queue now. */
  queueWorkers(connector: string, stage: 'push' | 'pull'): Promise<number>;
  /** Lifts a rate-limit park of the connector's push and pull queues and calls (see `park.ts`). */
  unpark(connector: string): Promise<UnparkResult>;
  /** Queue and work-set depths. */
  status(): Promise<EngineStatus>;
  /**
   * One connector's queues, work sets, API budget (calls counted in the window ending at `now`)
   * and last pull: what the server reports, so it never reads the engine's keys itself.
   */
  connectorStatus(connector: string, now?: number): Promise<ConnectorReport>;
  /** Changes in and out per connector for each of the last `minutes` minutes up to `now`, oldest first. */
  changesPerMinute(minutes: number, now?: number): Promise<MinuteCounts[]>;
  /** True when no work is queued, delayed, running or waiting in any set. */
  idle(): Promise<boolean>;
  /** The live connector instance (created on first use). */
  instance(connector: string): Promise<SyncInstance>;
  /** The engine's Redis connection (BullMQ-ready), for other stages' queues on the same prefix. */
  readonly connection: RedisClient;
  /**
   * Receives the webhook events the engine does not handle itself (erasure requests, deletions,
   * merges) whenever `receiveWebhook` is called without its own listener; `undefined` removes it.
   */
  setEventListener(listener: UnhandledEventListener | undefined): void;
  /** Adds a screen every batch of records passes before ingest (webhooks, reads, pulls). */
  addRecordScreen(screen: RecordScreen): void;
  /** True while the engine's Redis connections are up; when false, webhooks and ingest refuse at once. */
  redisReady(): boolean;
  /**
   * While Redis is away, ends the engine's connections, on which every worker (the privacy
   * service's too) sends its commands: their closes would wait for ever for commands queued for
   * a Redis that may not come back. Call it before closing any worker; `close` does it too.
   */
  releaseRedisIfAway(): void;
  /**
   * Called after the engine noticed that Redis came back empty and rebuilt its own work
   * (schedulers, outbox), so other stages on the same Redis (privacy) re-create theirs.
   * `queueNames`: those stages' queues, whose hash tags are watched too (call before `start`).
   */
  onRedisReset(listener: () => Promise<void>, queueNames?: readonly string[]): void;
  /**
   * Watches Redis for a loss of its data without starting any worker (`start` does it too):
   * for a process whose other stages (privacy) keep work in Redis.
   */
  watchRedis(): Promise<void>;
}

/** The engine's queue names for these connectors (the queue board shows them). */
export function engineQueueNames(connectors: readonly SyncConnector[]): string[] {
  const names: string[] = [queueNames.ingest, queueNames.relay];
  for (const c of connectors) {
    if (c.capabilities.push) names.push(queueNames.push(c.id));
    if (c.capabilities.pull) names.push(queueNames.pull(c.id));
    if (c.capabilities.webhooks) names.push(queueNames.read(c.id));
  }
  return names;
}

/**
 * The hash tags the engine's data lives on besides the deployment's (see `queuePrefix`): each
 * queue's and each connector's (`connectorTag`). Redis loss is watched, and `/readyz` checks
 * the slot, on each of them.
 */
export function engineHashTags(connectors: readonly SyncConnector[]): string[] {
  return [...engineQueueNames(connectors), ...connectors.map((c) => connectorTag(c.id))];
}

const SWEEP_SCHEDULER = 'sweep';
const pullSchedulerId = (connector: string): string => `pull-${connector}`;

export function createEngine(options: EngineOptions): Engine {
  return new BullEngine(options);
}

class BullEngine implements Engine {
  readonly prefix: string;
  readonly metrics: SyncMetrics;
  readonly deadLetters: DeadLetterView;
  private readonly ctx: EngineContext;
  private readonly webhooksOutMetrics: WebhooksOutMetrics;
  private readonly redis: RedisClient;
  /** The engine's own commands (work sets, write log, limiter, dedupe), pipelined per tick. */
  private readonly commands: RedisClient;
  private readonly logger: Logger;
  private readonly workers: Worker[] = [];
  private readonly ordered: OrderedWorker<IngestJobData>[] = [];
  private readonly instances = new Map<string, Promise<SyncInstance>>();
  private readonly ingestor: Ingestor;
  private readonly relay: Relay;
  private readonly pusher: Pusher;
  private readonly puller: Puller;
  private readonly changedReader: ChangedReader;
  private readonly allQueues: Queue[];
  private closing: Promise<void> | null = null;
  private eventListener: UnhandledEventListener | undefined;
  /** The roles `start` ran with (null before it). */
  private roles: EngineRoles | null = null;
  private watch: RedisWatch | null = null;
  private readonly resetListeners: (() => Promise<void>)[] = [];
  /** Other stages' queues whose hash tags the Redis watch covers (`onRedisReset`). */
  private readonly watchedQueues: string[] = [];
  /** The outbound webhook endpoints of the instances that declare one. */
  private readonly webhookEndpoints: WebhookEndpointBinding[];
  /** Delivers outbound webhooks (started with the `push` role when an instance has an endpoint). */
  private deliveries: WebhookDeliveryWorker | null = null;

  constructor(private readonly options: EngineOptions) {
    const tuning = EngineTuning.parse(options.tuning ?? {});
    this.prefix = hashTagPrefix(options.prefix ?? '{concord}');
    this.logger = options.logger ?? silentLogger();
    const connectors = new Map<string, SyncConnector>();
    for (const c of options.connectors) {
      assertInstanceId(c.id);
      if (connectors.has(c.id)) throw new Error(`connector instance ${c.id} given twice`);
      connectors.set(c.id, c);
    }
    // BullMQ workers need `maxRetriesPerRequest: null` (https://docs.bullmq.io/guide/connections).
    this.redis = createRedisClient(options.redis, { maxRetriesPerRequest: null });
    // Every reconnect attempt reports an error while Redis is away: logged at a bounded rate.
    const unavailable = `redis at ${redisAddress(this.redis)} unavailable: retrying with backoff`;
    this.redis.on('error', (err) => logRedisTrouble(this.logger, { err }, unavailable));
    // Commands issued in the same tick go out in one write: a batch touches dozens of keys.
    // BullMQ keeps its own connection (its blocking and scripted commands are not pipelined).
    this.commands = duplicateRedisClient(this.redis, { enableAutoPipelining: true });
    this.commands.on('error', (err) => logRedisTrouble(this.logger, { err }, unavailable));
    const keys = engineKeys(this.prefix);
    // Each queue on a hash tag of its own (see `queuePrefix`).
    const queue = (name: string): Queue => new Queue(name, { connection: this.redis, prefix: queuePrefix(this.prefix, name) });
    const push = new Map<string, Queue>();
    const pull = new Map<string, Queue>();
    const read = new Map<string, Queue>();
    for (const c of connectors.values()) {
      if (c.capabilities.push) push.set(c.id, queue(queueNames.push(c.id)));
      if (c.capabilities.pull) pull.set(c.id, queue(queueNames.pull(c.id)));
      if (c.capabilities.webhooks) read.set(c.id, queue(queueNames.read(c.id)));
    }
    const queues = {
      ingest: queue(queueNames.ingest),
      relay: queue(queueNames.relay),
      push,
      pull,
      read,
    };
    // Upstream stages first: `idle` counts them in this order, so a job handing work downstream is seen on one side.
    this.allQueues = [...read.values(), queues.ingest, queues.relay, ...push.values(), ...pull.values()];
    for (const q of this.allQueues)
      q.on('error', (err) => logRedisTrouble(this.logger, { err, queue: q.name }, `queue error (redis at ${redisAddress(this.redis)})`));

    this.metrics = createSyncMetrics(options.metrics);
    this.webhookEndpoints = [...connectors.values()].flatMap((c) =>
      c.outboundWebhooks ? [{ id: c.id, endpoint: c.outboundWebhooks }] : [],
    );
    this.webhooksOutMetrics = createWebhooksOutMetrics(
      this.metrics.registry,
      () => options.store.pendingWebhookCounts(),
      this.webhookEndpoints.map((e) => e.id),
    );
    const work = new WorkSets(this.commands, keys);
    this.deadLetters = new DeadLetterView(
      this.commands,
      keys,
      () => [...push.keys()],
      async (connector) => {
        await scheduleFlush(this.ctx, connector, 'now');
      },
    );
    this.ctx = {
      redis: this.commands,
      keys,
      store: options.store,
      policy: options.policy,
      logger: this.logger,
      metrics: this.metrics,
      tuning,
      connectors,
      instance: (id) => this.instance(id),
      work,
      limiter: new CallLimiter(this.commands, keys, tuning.limiterMarginMs, (id) => this.forgetParks(id)),
      dead: this.deadLetters,
      queues,
      screens: [],
      changes: new ChangeCounts(this.commands, keys),
    };
    const writes = new WriteLog(this.commands, keys.writes, keys.writeOf, tuning.writeLogRetentionMs);
    this.ingestor = new Ingestor(this.ctx, writes);
    this.relay = new Relay(this.ctx);
    this.pusher = new Pusher(this.ctx, writes);
    this.puller = new Puller(this.ctx, this.ingestor);
    this.changedReader = new ChangedReader(this.ctx, this.ingestor);
    this.metrics.setDepthSource(async () => {
      // A scrape while Redis is away answers without depths rather than waiting for it.
      if (!this.redisReady()) return { queues: [], work: [] };
      // Nor does one while a Cluster slot moves ("not now" answers): the other metrics still go out.
      const status = await this.status().catch((err: unknown) => {
        if (err instanceof RedisUnavailableError) return null;
        throw err;
      });
      if (status === null) return { queues: [], work: [] };
      return {
        queues: status.queues.flatMap((q) =>
          (['wait', 'active', 'delayed', 'failed'] as const).map((state) => ({ queue: q.queue, state, count: q[state] })),
        ),
        work: status.connectors.flatMap((c) =>
          (['dirty', 'inflight', 'retry', 'dead'] as const).map((set) => ({ connector: c.connector, set, count: c[set] })),
        ),
      };
    });
  }

  get connection(): RedisClient {
    return this.redis;
  }

  setEventListener(listener: UnhandledEventListener | undefined): void {
    this.eventListener = listener;
  }

  addRecordScreen(screen: RecordScreen): void {
    this.ctx.screens.push(screen);
  }

  redisReady(): boolean {
    return redisReady(this.redis, this.commands);
  }

  onRedisReset(listener: () => Promise<void>, queueNames: readonly string[] = []): void {
    this.resetListeners.push(listener);
    this.watchedQueues.push(...queueNames);
  }

  async watchRedis(): Promise<void> {
    if (this.watch) return;
    this.watch = new RedisWatch(
      this.redis,
      [
        this.ctx.keys.epoch,
        ...[...engineHashTags([...this.ctx.connectors.values()]), ...this.watchedQueues].map((tag) => this.ctx.keys.queueEpoch(tag)),
      ],
      this.ctx.tuning.redisCheckEveryMs,
      (event) => this.rebuild(event),
      this.logger,
    );
    await this.watch.start();
  }

  instance(id: string): Promise<SyncInstance> {
    let existing = this.instances.get(id);
    if (!existing) {
      const connector = this.ctx.connectors.get(id);
      if (!connector) return Promise.reject(new Error(`unknown connector instance ${id}`));
      existing = connector.create({
        logger: this.logger.child({ connector: id }),
        metrics: this.metrics.registry,
        knownRecords: (page) => knownRecordsOf(this.ctx.store, id, page),
        ...(connector.outboundWebhooks
          ? { outboundWebhooks: storeOutboundWebhooks(this.ctx.store, id, () => this.deliveries?.nudge(id)) }
          : {}),
      });
      existing.catch(() => this.instances.delete(id));
      this.instances.set(id, existing);
    }
    return existing;
  }

  /** A park was lifted: the live instance forgets the blocks it keeps in memory. */
  private async forgetParks(id: string): Promise<void> {
    const instance = await this.instances.get(id)?.catch(() => undefined);
    instance?.unpark?.();
  }

  async start(rolesInput: Partial<EngineRoles> = {}): Promise<void> {
    const roles = EngineRoles.parse(rolesInput);
    const { tuning, connectors } = this.ctx;
    await moveLegacyConnectorKeys(this.ctx.redis, this.prefix, this.ctx.keys, [...connectors.keys()], this.logger);
    const { queues } = this.ctx;
    await moveLegacyQueueJobs(
      this.ctx.redis,
      this.prefix,
      [queues.ingest, queues.relay, ...queues.push.values(), ...queues.pull.values(), ...queues.read.values()],
      this.logger,
    );
    const base = {
      connection: this.redis,
      lockDuration: tuning.lockDurationMs,
      stalledInterval: tuning.stalledIntervalMs,
      maximumRateLimitDelay: tuning.parkRecheckMs,
      settings: { backoffStrategy: this.backoffStrategy },
    };
    if (roles.ingest) {
      const ordered = new OrderedWorker<IngestJobData>(
        queueNames.ingest,
        (job) => this.ingestor.process(job),
        { ...base, prefix: queuePrefix(this.prefix, queueNames.ingest), maxInFlight: tuning.ingestConcurrency },
        this.logger,
      );
      this.addWorker(ordered.worker);
      this.ordered.push(ordered);
      await ordered.start();
    }
    if (roles.relay) {
      this.addWorker(
        new Worker(queueNames.relay, async (job) => (job.name === 'sweep' ? this.relay.sweep() : this.relay.drain()), {
          ...base,
          prefix: queuePrefix(this.prefix, queueNames.relay),
          concurrency: 1,
        }),
      );
    }
    for (const c of connectors.values()) {
      if (roles.push && c.capabilities.push) {
        this.addWorker(
          new Worker<FlushJobData>(queueNames.push(c.id), (job, _token, signal) => this.pusher.process(job, signal), {
            ...base,
            prefix: queuePrefix(this.prefix, queueNames.push(c.id)),
            concurrency: c.limits.concurrency,
            limiter: { max: c.limits.requestsPerWindow, duration: c.limits.windowMs },
          }),
        );
      }
      if (roles.ingest && c.capabilities.webhooks) {
        // Its own queue per connector: reads waiting on one vendor's limit never hold the shared ingest queue.
        this.addWorker(
          new Worker<ChangedReadJob>(queueNames.read(c.id), (job, _token, signal) => this.changedReader.process(job, signal), {
            ...base,
            prefix: queuePrefix(this.prefix, queueNames.read(c.id)),
            concurrency: c.limits.concurrency,
          }),
        );
      }
      if (roles.pull && c.capabilities.pull) {
        this.addWorker(
          new Worker<PullJobData>(queueNames.pull(c.id), (job, token, signal) => this.puller.process(job, signal, token), {
            ...base,
            prefix: queuePrefix(this.prefix, queueNames.pull(c.id)),
            concurrency: 1,
            limiter: { max: c.limits.requestsPerWindow, duration: c.limits.windowMs },
          }),
        );
      }
    }
    if (roles.push && this.webhookEndpoints.length > 0 && !this.deliveries) {
      this.deliveries = new WebhookDeliveryWorker({
        store: this.ctx.store,
        endpoints: this.webhookEndpoints,
        metrics: this.webhooksOutMetrics,
        logger: this.logger.child({ component: 'webhooks-out' }),
        tuning: tuning.webhooksOut,
      });
      await this.deliveries.start();
    }
    await this.ensureSchedulers(roles);
    this.roles = roles;
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    await this.watchRedis();
    this.logger.info({ roles, prefix: this.prefix, connectors: [...connectors.keys()] }, 'sync engine started');
  }

  /** The job schedulers of the roles: the relay's sweep and each connector's pull. Idempotent. */
  private async ensureSchedulers(roles: EngineRoles): Promise<void> {
    const { tuning, queues, connectors } = this.ctx;
    if (roles.relay) {
      await queues.relay.upsertJobScheduler(
        SWEEP_SCHEDULER,
        { every: tuning.sweepEveryMs },
        {
          name: 'sweep',
          opts: jobOptions.sweep(),
        },
      );
    }
    if (!roles.pull) return;
    for (const c of connectors.values()) {
      const queue = queues.pull.get(c.id);
      if (!queue) continue;
      if (c.schedule) {
        const repeat = 'every' in c.schedule ? { every: c.schedule.every } : { pattern: c.schedule.cron };
        await queue.upsertJobScheduler(pullSchedulerId(c.id), repeat, {
          name: 'pull',
          data: { connector: c.id },
          opts: jobOptions.pull(),
        });
      } else {
        await queue.removeJobScheduler(pullSchedulerId(c.id));
      }
    }
  }

  /**
   * Redis came back without its data: whatever it held is rebuilt from the store. The job
   * schedulers of this process's roles are re-created; the relay hands every relayed outbox row
   * back (the pushes they waited for are gone) and drains them into the new dirty sets; pulls
   * run at once, for webhooks whose ingest jobs were lost (their look-back covers them).
   * Idempotent, and safe while another one runs (`RedisWatch` may leave one behind that waits
   * for a lost connection): schedulers are upserted, and a row handed back twice only marks its
   * profile dirty again (one entry per profile).
   */
  private async rebuild(event: RedisResetEvent): Promise<void> {
    const roles = this.roles ?? { ingest: false, relay: false, push: false, pull: false };
    if (!event.initial) await this.ensureSchedulers(roles);
    if (roles.relay) {
      const rows = await this.ctx.store.redriveOutbox();
      if (rows > 0 || !event.initial) this.logger.info({ rows }, 'outbox rows handed back to the relay');
      await kickRelay(this.ctx);
    }
    if (event.initial) return;
    if (roles.pull) {
      for (const [id, c] of this.ctx.connectors) {
        if (c.schedule && this.ctx.queues.pull.has(id)) await this.pullNow(id, { trigger: 'schedule' });
      }
    }
    for (const listener of this.resetListeners) await listener();
    this.logger.info({ roles }, 'rebuilt after redis lost its data');
  }

  private readonly backoffStrategy = (attemptsMade: number, _type?: string, err?: Error): number => {
    const delay = backoffDelay(attemptsMade, this.ctx.tuning.backoff);
    const retryAfter = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    return typeof retryAfter === 'number' ? Math.max(delay, retryAfter) : delay;
  };

  private addWorker(worker: Worker): void {
    worker.on('error', (err) =>
      logRedisTrouble(this.logger, { err, queue: worker.name }, `worker error (redis at ${redisAddress(this.redis)})`),
    );
    worker.on('failed', (job: Job | undefined, err: Error) => {
      this.logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'job failed');
    });
    this.workers.push(worker);
  }

  /** Ended, the connections reject what waits in their queues; a job left active is found stalled and run again. */
  releaseRedisIfAway(): void {
    if (this.redisReady()) return;
    this.redis.disconnect();
    this.commands.disconnect();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.watch?.stop();
      this.releaseRedisIfAway();
      // Workers first: close() waits for the jobs they are running. All at once, so that no
      // worker keeps taking new jobs (a push batch after another) while the others finish.
      await Promise.all([
        ...this.ordered.map((w) => w.close()),
        ...this.workers.map((w) => w.close()),
        ...(this.deliveries ? [this.deliveries.stop()] : []),
      ]);
      await Promise.all(this.allQueues.map((q) => q.close()));
      for (const pending of this.instances.values()) {
        const instance = await pending.catch(() => null);
        await instance?.close?.().catch((err: unknown) => this.logger.warn({ err }, 'connector close failed'));
      }
      await closeRedisClient(this.commands);
      await closeRedisClient(this.redis);
      this.logger.info('sync engine closed');
    })();
    return this.closing;
  }

  async receiveWebhook(connector: string, raw: RawWebhook, onUnhandled?: UnhandledEventListener): Promise<WebhookResult> {
    // Refused at once while Redis is away (the sender retries later), never queued offline.
    assertRedisReady(this.redis, this.commands);
    return withRedisDeadline(this.ctx.tuning.redisTimeoutMs, () =>
      receiveWebhook(this.ctx, connector, raw, onUnhandled ?? this.eventListener),
    ).catch((err: unknown) => {
      // Answered 503: said in the log too (at a bounded rate), so a lasting cause (a slot left
      // half-migrated, a wrong natMap) shows beside /readyz and the webhook metric.
      if (err instanceof RedisUnavailableError)
        logRedisTrouble(this.logger, { connector, err: err.message }, 'a webhook was answered 503: redis cannot take it now');
      throw err;
    });
  }

  async ingest(connector: string, records: ExternalRecord[], options: { receivedAt?: string; origin?: string } = {}): Promise<void> {
    if (!this.ctx.connectors.has(connector)) throw new Error(`unknown connector instance ${connector}`);
    const data: IngestJobData = {
      kind: 'records',
      connector,
      origin: options.origin ?? 'api',
      receivedAt: options.receivedAt ?? new Date().toISOString(),
      records,
    };
    const opts: JobsOptions = ingestJobOptions(this.ctx);
    assertRedisReady(this.redis, this.commands);
    await withRedisDeadline(this.ctx.tuning.redisTimeoutMs, () => this.ctx.queues.ingest.add('records', data, opts));
  }

  async pullNow(connector: string, options: { full?: boolean; trigger?: RunTrigger; requestId?: string } = {}): Promise<string> {
    const queue = this.ctx.queues.pull.get(connector);
    if (!queue) throw new Error(`connector instance ${connector} does not pull`);
    const full = options.full === true;
    const origin = runOrigin();
    const data: PullJobData = {
      connector,
      requested: true,
      ...(full ? { full, kind: 'full-pull' } : {}),
      trigger: options.trigger ?? origin.trigger,
      requestId: options.requestId ?? origin.requestId,
    };
    const id = jobId('pull', full ? 'full' : 'now', Date.now(), randomUUID().slice(0, 8));
    await queue.add('pull', data, { ...jobOptions.pullNow(), jobId: id });
    this.logger.info({ connector, jobId: id, full }, 'pull requested');
    return id;
  }

  async pullProgress(connector: string, id: string): Promise<PullJobView | null> {
    const queue = this.ctx.queues.pull.get(connector);
    const job = queue ? await Job.fromId<PullJobData, PullResult>(queue, id) : undefined;
    if (!job) return null;
    const state = await job.getState();
    const progress = typeof job.progress === 'object' ? (job.progress as Partial<PullProgressData>) : {};
    return {
      jobId: id,
      state: state === 'completed' || state === 'failed' || state === 'active' || state === 'delayed' ? state : 'waiting',
      full: job.data.full === true,
      progress: {
        pages: progress.pages ?? 0,
        records: progress.records ?? 0,
        ...(progress.expected === undefined ? {} : { expected: progress.expected }),
      },
      result: state === 'completed' ? (job.returnvalue ?? null) : null,
      error: state === 'failed' ? job.failedReason : null,
    };
  }

  async pushAgain(profileId: string): Promise<string[]> {
    const queued: string[] = [];
    // Its push runs record who asked (`concord push`: manual; the API: the HTTP request's id).
    const asked = runOrigin();
    const origin = { trigger: asked.trigger === 'api' ? ('api' as const) : ('manual' as const), requestId: asked.requestId };
    for (const connector of this.ctx.queues.push.keys()) {
      await this.ctx.work.repush(connector, [profileId], origin);
      await scheduleFlush(this.ctx, connector, 'now');
      queued.push(connector);
    }
    this.logger.info({ profileId, connectors: queued }, 'profile queued to be pushed again');
    return queued;
  }

  async pushAgainPending(profileId: string): Promise<string[]> {
    const pending: string[] = [];
    for (const connector of this.ctx.queues.push.keys())
      if ((await this.ctx.work.repushing(connector, [profileId])).size > 0) pending.push(connector);
    return pending;
  }

  async pushHeld(profileId: string): Promise<string[]> {
    const held: string[] = [];
    for (const connector of this.ctx.queues.push.keys()) {
      const c = this.ctx.connectors.get(connector);
      if (!c || !(waitsForFirstPull(c) || holdsCreates(c)) || !(await firstPullPending(this.ctx.store, connector))) continue;
      if (!waitsForFirstPull(c) && (await this.ctx.store.getShadow(profileId, connector))?.externalId) continue;
      held.push(connector);
    }
    return held;
  }

  async queueWorkers(connector: string, stage: 'push' | 'pull'): Promise<number> {
    const queue = this.ctx.queues[stage].get(connector);
    return queue ? queue.getWorkersCount() : 0;
  }

  async unpark(connector: string): Promise<UnparkResult> {
    if (!this.ctx.connectors.has(connector)) throw new Error(`unknown connector instance ${connector}`);
    return liftPark(this.ctx, connector);
  }

  async status(): Promise<EngineStatus> {
    const queues = await Promise.all(this.allQueues.map(queueStatus));
    const connectors = await Promise.all([...this.ctx.queues.push.keys()].map((connector) => this.workStatus(connector)));
    return { queues, connectors };
  }

  async connectorStatus(connector: string, now = Date.now()): Promise<ConnectorReport> {
    const c = this.ctx.connectors.get(connector);
    if (!c) throw new Error(`unknown connector instance ${connector}`);
    const { push, pull } = this.ctx.queues;
    const queues = [push.get(connector), pull.get(connector)].filter((q) => q !== undefined);
    const { used, blockedForMs } = await this.ctx.limiter.usage(connector, c.limits.windowMs, now);
    return {
      connector,
      queues: await Promise.all(queues.map(queueStatus)),
      profiles: push.has(connector) ? await this.workStatus(connector) : null,
      budget: {
        max: c.limits.requestsPerWindow,
        windowMs: c.limits.windowMs,
        used,
        remaining: Math.max(0, c.limits.requestsPerWindow - used),
        blockedForMs,
      },
      lastPull: await readLastPull(this.ctx, connector),
    };
  }

  changesPerMinute(minutes: number, now = Date.now()): Promise<MinuteCounts[]> {
    return this.ctx.changes.lastMinutes(minutes, now);
  }

  private async workStatus(connector: string): Promise<ConnectorStatus> {
    return { connector, ...(await this.ctx.work.depths(connector)) };
  }

  async idle(): Promise<boolean> {
    // The changed sets feed the read queues: looked at before them.
    for (const id of this.ctx.queues.read.keys()) {
      const { changed, changedTaken } = this.ctx.keys;
      if ((await this.ctx.redis.zcard(changed(id))) + (await this.ctx.redis.zcard(changedTaken(id))) > 0) return false;
    }
    const status = await this.status();
    const readQueues = new Set([...this.ctx.queues.read.values()].map((q) => q.name));
    for (const q of status.queues) {
      if (q.wait > 0 || q.active > 0) return false;
      // Job schedulers keep one delayed job each; any other delayed job is pending work, but for
      // a read queue's window jobs: the changed sets (empty here) are their work.
      if (q.delayed > 0 && !readQueues.has(q.queue)) {
        const queue = this.allQueues.find((x) => x.name === q.queue);
        const delayed = (await queue?.getDelayed(0, 1000)) ?? [];
        if (delayed.some((job) => !job.repeatJobKey)) return false;
      }
    }
    // Held creates are no work of their own: they wait for the first pull, which may be a schedule's next run hours away.
    return status.connectors.every((c) => c.dirty === 0 && c.inflight === 0 && c.retry === 0);
  }
}

/** A queue's depths: waiting (prioritized included), running, delayed and failed jobs. */
async function queueStatus(q: Queue): Promise<QueueStatus> {
  const c = await q.getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized');
  return {
    queue: q.name,
    wait: (c['wait'] ?? 0) + (c['prioritized'] ?? 0),
    active: c['active'] ?? 0,
    delayed: c['delayed'] ?? 0,
    failed: c['failed'] ?? 0,
  };
}

export type { LastPull, MinuteCounts, PullProgressData, PullResult, RedisOptions, UnparkResult };
