/**
 * The data-subject request service: takes requests (admin API, CLI, preference center, source
 * systems), records them with their deadline and per-system status, and drives them on BullMQ
 * queues that share the engine's Redis connection, key prefix and per-system limiter.
 *
 * - **Erase**: the person's identities (record ids in every system included) are hashed with
 *   the server key and put on the suppression list at once, so nothing of theirs is ingested or
 *   pushed from then on; every system holding them (and every always-erase system) gets a
 *   batched, verified erasure (`eraser.ts`); when all are done the store is emptied of them and
 *   only the proof stays (`settle.ts`).
 * - **Export**: a JSON document (and its CSV form) built by a job (`exporter.ts`).
 * - **Rectify, restrict, unrestrict, object, withdraw objection**: one patch from the hub
 *   (`admin` or `preference_center`), merged and delivered like any change, then tracked until
 *   every system holds it (`tracker.ts`).
 *
 * Every request and every step is in the audit log.
 *
 * The service is a facade: it builds the module's context (queues, work sets, metrics) and hands
 * each call to its part: `intake.ts` (new requests), `requests.ts` (recorded requests: read,
 * extend, retry, export), `source-requests.ts` (erasures source systems ask for) and
 * `workers.ts` (workers, sweep, parks).
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { MergePolicy, ProfilePatch } from '../profile/schema.js';
import { logRedisTrouble, redisAddress } from '../queue/redis-health.js';
import { hashTagPrefix, queuePrefix } from '../queue/keys.js';
import { WorkSets } from '../queue/work-sets.js';
import type { ApplyResult, DsrStatus, Store } from '../store/types.js';
import type { Engine, SyncConnector } from '../sync/index.js';
import type { PrivacyContext, SettledRequest } from './context.js';
import type { Result } from './errors.js';
import type { ExportDocument } from './export/document.js';
import { Intake } from './intake.js';
import type { RequestMeta } from './intake.js';
import { eraseWorkKeys, privacyKeys, privacyQueues } from './keys.js';
import { createPrivacyMetrics } from './metrics.js';
import { PrivacyOptions } from './options.js';
import type { PrivacyOptionsInput } from './options.js';
import { Requests } from './requests.js';
import { Retention } from './retention.js';
import type { RetentionReport } from './retention.js';
import type { DsrExtension, DsrInputData, DsrKind, DsrView } from './schema.js';
import { SourceRequests } from './source-requests.js';
import type { SourceRequestOutcome } from './source-requests.js';
import { PrivacyWorkers } from './workers.js';
import type { PrivacyEngine } from './workers.js';
import { silentLogger } from '../log/logger.js';

export { overdueNow } from './requests.js';
export type { RequestMeta } from './intake.js';
export type { SettledRequest } from './context.js';
export type { SourceRequestOutcome } from './source-requests.js';
export type { PrivacyEngine } from './workers.js';

export interface PrivacyServiceDeps {
  store: Store;
  /** A BullMQ-ready Redis connection (`maxRetriesPerRequest: null`): the engine's `connection`. */
  redis: RedisClient;
  /** The engine's key prefix. */
  prefix: string;
  connectors: readonly SyncConnector[];
  policy: MergePolicy;
  /** Ingests a hub patch (`HubPatchIngest.ingest`): rectify, restrict and object requests go through it. */
  ingestPatch(patch: ProfilePatch, options?: { actor?: string }): Promise<ApplyResult>;
  /** Where metrics are registered (the engine's registry); a private one otherwise. */
  metrics?: Registry;
  logger?: Logger;
  options?: PrivacyOptionsInput;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Told of each request that completes, after its proof is stored (and an erasure's data
   * deleted), with the opaque reference it was made with (`RequestMeta.notify`). Not awaited
   * by the request; a failure is logged. The composition root wires the notice mail here, so
   * privacy/ knows nothing of mail.
   */
  onSettled?: (settled: SettledRequest) => void | Promise<void>;
}

export class PrivacyService {
  readonly ctx: PrivacyContext;
  private readonly queues: Queue[];
  private readonly intake: Intake;
  private readonly requests: Requests;
  private readonly sources: SourceRequests;
  private readonly workers: PrivacyWorkers;
  private readonly retention: Retention;
  private closing: Promise<void> | null = null;

  constructor(deps: PrivacyServiceDeps) {
    const options = PrivacyOptions.parse(deps.options ?? {});
    const prefix = hashTagPrefix(deps.prefix);
    const clock = deps.now ?? Date.now;
    const now = (): Date => new Date(clock());
    const queue = (name: string): Queue => new Queue(name, { connection: deps.redis, prefix: queuePrefix(prefix, name) });
    const requests = queue(privacyQueues.requests);
    const erase = new Map<string, Queue>();
    for (const c of deps.connectors) if (c.capabilities.erase) erase.set(c.id, queue(privacyQueues.erase(c.id)));
    this.queues = [requests, ...erase.values()];
    const logger = (deps.logger ?? silentLogger()).child({ component: 'privacy' });
    for (const q of this.queues)
      q.on('error', (err) => logRedisTrouble(logger, { queue: q.name, err }, `queue error (redis at ${redisAddress(deps.redis)})`));
    this.ctx = {
      store: deps.store,
      redis: deps.redis,
      prefix,
      connectors: new Map(deps.connectors.map((c) => [c.id, c])),
      policy: deps.policy,
      options,
      logger,
      metrics: createPrivacyMetrics(deps.metrics ?? new Registry(), deps.store, now),
      now,
      keys: privacyKeys(prefix),
      queues: { requests, erase },
      work: new WorkSets(deps.redis, eraseWorkKeys(prefix)),
      ingestPatch: deps.ingestPatch,
      ...(deps.onSettled ? { onSettled: deps.onSettled } : {}),
    };
    this.intake = new Intake(this.ctx);
    this.requests = new Requests(this.ctx);
    this.sources = new SourceRequests(this.ctx, this.intake);
    this.retention = new Retention(this.ctx, this.intake);
    this.workers = new PrivacyWorkers(this.ctx, this.sources, this.retention);
  }

  /** Records a request and starts it. Expected failures (no such person...) are values. */
  submit(input: DsrInputData, meta: RequestMeta): Promise<Result<DsrView>> {
    return this.intake.submit(input, meta);
  }

  get(id: string): Promise<Result<DsrView>> {
    return this.requests.get(id);
  }

  /**
   * Runs the retention rules now (`hub.privacy.retention`), or those named: a dry run only
   * reports what they select; otherwise `erase` rules start erasures (the workers carry them out).
   */
  retentionRules(): string[] {
    return this.ctx.options.retention.rules.map((r) => r.id);
  }

  runRetention(options: { dryRun: boolean; rules?: readonly string[] }): Promise<RetentionReport> {
    return this.retention.run(options);
  }

  /** How many workers (of hub processes with the privacy role) take this hub's requests now. */
  async workersConnected(): Promise<number> {
    return (await this.ctx.queues.requests.getWorkers()).length;
  }

  /** Requests, oldest first: all, by status, or those overdue now. */
  list(filter?: { overdue?: boolean; status?: DsrStatus; kind?: DsrKind; profileId?: string }): Promise<DsrView[]> {
    return this.requests.list(filter);
  }

  /** Records an extension of the deadline (Art. 12(3)) with when the person was told and why. */
  extend(id: string, input: DsrExtension, actor: string): Promise<Result<DsrView>> {
    return this.requests.extend(id, input, actor);
  }

  /** Tries the failed systems of a failed (or failing) request again. */
  retry(id: string, actor: string): Promise<Result<DsrView>> {
    return this.requests.retry(id, actor);
  }

  /** The prepared export of an export request, while it is kept. */
  exportDocument(id: string): Promise<Result<ExportDocument>> {
    return this.requests.exportDocument(id);
  }

  /** Records in the audit log that an export was handed out (to whom, in which format). */
  recordDownload(id: string, actor: string, format: 'json' | 'csv' | 'html'): Promise<void> {
    return this.requests.recordDownload(id, actor, format);
  }

  /** An erasure asked for by a source system for its record (see `SourceRequests.requestFromSource`). */
  requestFromSource(
    connector: string,
    ref: { externalId: string; email?: string },
    options?: { checkUnknown?: { eventId: string } },
  ): Promise<SourceRequestOutcome> {
    return this.sources.requestFromSource(connector, ref, options);
  }

  /** Listens to the engine for erasure requests from source systems (webhook events, erasure flags). */
  attachSources(engine: Pick<Engine, 'setEventListener' | 'addRecordScreen'>): void {
    this.sources.attachSources(engine);
  }

  /**
   * Lifts a rate-limit park of the connector's erase queue (an operator's call, beside the
   * engine's `unpark`) and runs the queue at once. Returns how long the park had left (ms).
   */
  unpark(connector: string): Promise<number> {
    return this.workers.unpark(connector);
  }

  /** Starts the workers (exports, delivery tracking, one erase queue per system) and the sweep. */
  start(engine: PrivacyEngine): Promise<void> {
    return this.workers.start(engine);
  }

  /** (Re-)creates the sweep's job scheduler: at start, and after Redis came back empty. Idempotent. */
  /** The names of the privacy module's queues (each on a hash tag of its own, see `queuePrefix`). */
  queueNames(): string[] {
    return this.queues.map((q) => q.name);
  }

  restoreSchedulers(): Promise<void> {
    return this.workers.restoreSchedulers();
  }

  /** The safety net: drives again requests whose work was lost (see `PrivacyWorkers.sweep`). */
  sweep(): Promise<{ open: number; redriven: number }> {
    return this.workers.sweep();
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.workers.close();
      await Promise.all(this.queues.map((q) => q.close()));
    })();
    return this.closing;
  }
}
