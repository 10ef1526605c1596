/**
 * The engine's options. The connectors, store and policy come in explicitly (see
 * `from-config.ts` to build them from `concord.yaml`); the tuning knobs have defaults that
 * suit production and are shortened by tests.
 */
import { z } from 'zod';
import type { RedisTarget } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MergePolicy } from '../profile/schema.js';
import type { Store } from '../store/types.js';
import { BackoffPolicy } from '../queue/backoff.js';
import type { SyncConnector } from './bind.js';
import { WebhooksOutTuning } from './webhooks-out/worker.js';

const ms = z.number().int().nonnegative();
const count = z.number().int().positive();

export const EngineTuning = z.object({
  /** Ingest jobs processed at once per process (they share store transactions). */
  ingestConcurrency: count.default(64),
  /** Most records applied in one store transaction. */
  ingestBatchSize: count.default(256),
  /**
   * How long an ingest batch waits for more records before it is applied.
   * @defaultValue 5
   */
  ingestBatchWaitMs: ms.default(5),
  /**
   * Ingest batches in flight at once per process. The reads and checks of one overlap the
   * store transaction of another (SQLite still commits one at a time); two batches hold their
   * profiles (WorkSets.lockForIngest) as batches of two processes do.
   */
  ingestBatchConcurrency: count.default(4),
  /**
   * Lease of the short hold ingest takes on a profile while it commits (see
   * WorkSets.lockForIngest); a crashed ingest's profiles are free again after this.
   * YAML: `hub.sync.ingestLock`.
   * @defaultValue 60_000 (1 minute)
   */
  ingestLockMs: count.default(60_000),
  /**
   * How long the records of arriving webhooks wait for others to share one ingest job.
   * @defaultValue 2
   */
  webhookBatchWaitMs: ms.default(2),
  /**
   * How long the records webhooks name as changed (without their values) gather before one
   * batch read takes them: the read of a connector's window waits this long after its first
   * webhook (`read.<connector>` queue). Under a backlog the reads take full batches anyway.
   * @defaultValue 1_000
   */
  changedReadWaitMs: ms.default(1_000),
  /** Attempts of an ingest job (a store outage, a failed read after a webhook). */
  ingestAttempts: count.default(20),
  /** Outbox rows claimed per relay round. */
  relayBatchSize: count.default(1_000),
  /** How long claimed outbox rows stay hidden; after a crash they come back after this. */
  outboxLeaseMs: ms.default(30_000),
  /**
   * The relay runs at most this long after the first change it is kicked for (debounce: the
   * kicks of one slot of this length share one relay run).
   * @defaultValue 20
   */
  relayDelayMs: ms.default(20),
  /**
   * A partial batch is pushed once its oldest profile has waited this long (a full batch goes
   * at once). Only while the connector's push stage is busy: the first change that finds it
   * idle goes at once (see `idleAfterMs`).
   * @defaultValue 1_000
   */
  flushDelayMs: ms.default(1_000),
  /**
   * "Flush immediately when idle, batch when busy" (like Nagle's algorithm): a connector's push
   * stage counts as idle when nothing is dirty for it (no partial batch waiting to fill) and
   * nothing was marked dirty for it for this long. The first change
   * that finds it idle is pushed at once, alone or with whatever is dirty; the changes that
   * follow it within this time gather into batches (`maxBatch`, or `flushDelayMs`). A lone
   * change so reaches the system without the flush delay, while under load, when changes come
   * closer together than this, batches fill as before; the pushes sent at once add at most one
   * call per system per `idleAfterMs`.
   * @defaultValue 250
   */
  idleAfterMs: count.default(250),
  /**
   * Lease of profiles taken by a push; a crashed push's profiles come back after this.
   * YAML: `hub.sync.inflightLease`.
   * @defaultValue 120_000 (2 minutes)
   */
  inflightLeaseMs: ms.default(120_000),
  /**
   * Longest a worker of a parked queue sleeps before it asks Redis whether the park still
   * holds, so a park an operator lifted (`concord unpark`) is noticed by every process.
   * @defaultValue 1_000
   */
  parkRecheckMs: count.default(1_000),
  /** Safety-net sweep: outbox rows with expired leases, expired in-flight profiles, retries. */
  sweepEveryMs: count.default(5_000),
  /** BullMQ attempts of a push job whose call failed as a whole. */
  pushAttempts: count.default(8),
  /** Retries of one API call on a transient error (p-retry), before the job fails. */
  callRetries: z.number().int().nonnegative().default(2),
  /** First p-retry delay; doubles per retry. */
  callRetryMinMs: ms.default(200),
  /** Retryable outcomes of one profile before it is dead-lettered. */
  profileMaxAttempts: count.default(10),
  /** Backoff of BullMQ attempts and of retryable profiles. */
  backoff: BackoffPolicy.prefault({}),
  /** Added to each rate-limit window, for the delay between acquiring a slot and the request landing. */
  limiterMarginMs: ms.default(25),
  /** Clock difference allowed between a source and the hub when recognising our own writes coming back. */
  echoToleranceMs: ms.default(1_000),
  /** How long the hub remembers its writes to a system, to recognise late echoes and stale snapshots. */
  writeLogRetentionMs: count.default(10 * 60_000),
  /** BullMQ job lock; a worker that dies loses its jobs to another after this. */
  lockDurationMs: count.default(30_000),
  /** How often BullMQ looks for jobs of dead workers. */
  stalledIntervalMs: count.default(30_000),
  /** Completed ingest jobs kept for event-id deduplication (seconds). */
  keepIngestedForSec: count.default(600),
  /**
   * How often the engine checks that Redis still holds its data (an epoch key); a Redis that
   * came back empty is also noticed at once when a connection becomes ready again.
   */
  redisCheckEveryMs: count.default(5_000),
  /** Longest wait for Redis when enqueueing a webhook or a change; then it is refused (503). */
  redisTimeoutMs: count.default(1_000),
  /**
   * Lease of a sync run (`RunRecorder`), renewed at a third of it while the run works: a run
   * whose process died is marked failed by the sweep once it passes.
   * @defaultValue 60_000 (1 minute)
   */
  runLeaseMs: count.default(60_000),
  /**
   * How long finished sync runs are kept. YAML: `hub.sync.runRetention`.
   * @defaultValue 2_592_000_000 (30 days)
   */
  runRetentionMs: count.default(30 * 86_400_000),
  /**
   * How long profile history entries are kept (deleted by the runs' sweep). YAML: `hub.sync.historyRetention`.
   * @defaultValue 34_560_000_000 (400 days)
   */
  historyRetentionMs: count.default(400 * 86_400_000),
  /**
   * How often the relay's sweep also sweeps the runs (abandoned ones failed, old ones deleted).
   * @defaultValue 60_000
   */
  runSweepEveryMs: count.default(60_000),
  /** The outbound webhooks' delivery worker (processes with the `push` role). */
  webhooksOut: WebhooksOutTuning.prefault({}),
});
export type EngineTuning = z.infer<typeof EngineTuning>;
export type EngineTuningInput = z.input<typeof EngineTuning>;

/** Which parts of the engine a process runs. */
export const EngineRoles = z.object({
  ingest: z.boolean().default(true),
  relay: z.boolean().default(true),
  push: z.boolean().default(true),
  pull: z.boolean().default(true),
});
export type EngineRoles = z.infer<typeof EngineRoles>;

export interface EngineOptions {
  /** A `redis://` URL, ioredis options, a Cluster (seed nodes) or a Sentinel group (see `queue/redis-client.ts`). */
  redis: RedisTarget;
  /** Key prefix of every queue and key; wrapped in a hash tag (`{concord}`) when it has none. */
  prefix?: string;
  store: Store;
  /** The connector instances. Push-capable ones must be the store's `outboxTargets`. */
  connectors: readonly SyncConnector[];
  policy: MergePolicy;
  logger?: Logger;
  /** Where metrics are registered (the server exposes it); a private registry otherwise. */
  metrics?: Registry;
  tuning?: EngineTuningInput;
}
